"""/authors: author CRUD and an author's books."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, TokenFirstRoute, WriteToken
from bookstore.api.books import browse_filters, fetch_book_page
from bookstore.api.dependencies import Pager, PathId
from bookstore.api.errors import RESOURCE_ERROR_RESPONSES
from bookstore.api.responses import ShapedResponse
from bookstore.catalog.sorts import sort_order
from bookstore.errors import NotFound
from bookstore.schemas import (
    AuthorBooksQuery,
    AuthorCreate,
    AuthorOut,
    AuthorPage,
    AuthorQuery,
    AuthorUpdate,
    BookPage,
)

router = APIRouter(
    prefix="/authors",
    tags=["authors"],
    responses=RESOURCE_ERROR_RESPONSES,
    route_class=TokenFirstRoute,
)


@router.get("", response_model=AuthorPage)
async def list_authors(request: Request, params: Annotated[AuthorQuery, Query()]) -> AuthorPage:
    """Authors in (name, id) order."""
    pager = Pager(json.dumps(["authors", params.name]), request.app.state.cursor_secret)
    items, next_key = await catalog.list_authors(
        params.name, limit=params.limit, after=pager.decode(params.cursor)
    )
    return AuthorPage.model_validate({"items": items, "next_cursor": pager.encode(next_key)})


@router.post(
    "",
    response_model=AuthorOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteToken],
    responses=UNAUTHORIZED,
)
async def create_author(body: AuthorCreate) -> AuthorOut:
    return AuthorOut.model_validate(await catalog.create_author(body.model_dump()))


@router.get("/{author_id}", response_model=AuthorOut)
async def get_author(author_id: PathId) -> AuthorOut:
    return AuthorOut.model_validate(await catalog.get_author(author_id))


@router.patch(
    "/{author_id}", response_model=AuthorOut, dependencies=[WriteToken], responses=UNAUTHORIZED
)
async def update_author(author_id: PathId, body: AuthorUpdate) -> AuthorOut:
    fields = body.model_dump(exclude_unset=True)
    return AuthorOut.model_validate(await catalog.update_author(author_id, fields))


@router.delete(
    "/{author_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteToken],
    responses={**UNAUTHORIZED, 409: {"description": "The author still has books."}},
)
async def delete_author(author_id: PathId) -> Response:
    await catalog.delete_author(author_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{author_id}/books",
    response_model=BookPage,
)
async def list_author_books(
    request: Request, author_id: PathId, params: Annotated[AuthorBooksQuery, Query()]
) -> ShapedResponse:
    """The author's books, by title unless ``sort`` says otherwise; 404 when the author
    does not exist. The storefront's ranges, categories, sorts, facets and total apply."""
    filters = browse_filters(
        params,
        author_id=author_id,
        category=params.category,
        category_id=params.category_id,
        category_mode=params.category_mode,
    )
    page = await fetch_book_page(
        request,
        filters,
        limit=params.limit,
        cursor=params.cursor,
        sort=sort_order(params.sort or "title"),
        counts=params,
    )
    # An empty page is the only case where existence is in doubt: check it then.
    if not page["items"] and not await catalog.author_exists(author_id):
        raise NotFound(f"author {author_id} not found")
    return ShapedResponse(page)
