"""/categories: category CRUD and a category's books."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, TokenFirstRoute, WriteToken
from bookstore.api.books import browse_filters, fetch_book_page
from bookstore.api.dependencies import PathId
from bookstore.api.errors import RESOURCE_ERROR_RESPONSES
from bookstore.api.responses import ShapedResponse
from bookstore.catalog.sorts import sort_order
from bookstore.errors import NotFound
from bookstore.schemas import (
    BookPage,
    CategoryCreate,
    CategoryList,
    CategoryOut,
    CategoryUpdate,
    ListingQuery,
)

router = APIRouter(
    prefix="/categories",
    tags=["categories"],
    responses=RESOURCE_ERROR_RESPONSES,
    route_class=TokenFirstRoute,
)


@router.get("", response_model=CategoryList)
async def list_categories() -> CategoryList:
    """Every category, by name: a store has hundreds, not millions."""
    return CategoryList.model_validate({"items": await catalog.list_categories()})


@router.post(
    "",
    response_model=CategoryOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteToken],
    responses=UNAUTHORIZED,
)
async def create_category(body: CategoryCreate) -> CategoryOut:
    return CategoryOut.model_validate(await catalog.create_category(body.model_dump()))


@router.get("/{category_id}", response_model=CategoryOut)
async def get_category(category_id: PathId) -> CategoryOut:
    return CategoryOut.model_validate(await catalog.get_category(category_id))


@router.patch(
    "/{category_id}",
    response_model=CategoryOut,
    dependencies=[WriteToken],
    responses=UNAUTHORIZED,
)
async def update_category(category_id: PathId, body: CategoryUpdate) -> CategoryOut:
    fields = body.model_dump(exclude_unset=True)
    return CategoryOut.model_validate(await catalog.update_category(category_id, fields))


@router.delete(
    "/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteToken],
    responses={**UNAUTHORIZED, 409: {"description": "Books are still in the category."}},
)
async def delete_category(category_id: PathId) -> Response:
    await catalog.delete_category(category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{category_id}/books",
    response_model=BookPage,
)
async def list_category_books(
    request: Request, category_id: PathId, params: Annotated[ListingQuery, Query()]
) -> ShapedResponse:
    """The category's books, by title unless ``sort`` says otherwise; 404 when it does not
    exist. The storefront's ranges, sorts, facets and total apply."""
    filters = browse_filters(params, category_id=[category_id])
    page = await fetch_book_page(
        request,
        filters,
        limit=params.limit,
        cursor=params.cursor,
        sort=sort_order(params.sort or "title"),
        counts=params,
    )
    if not page["items"] and not await catalog.category_exists(category_id):
        raise NotFound(f"category {category_id} not found")
    return ShapedResponse(page)
