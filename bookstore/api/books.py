"""/books: the catalog search and book CRUD."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, WriteToken
from bookstore.api.conditional import (
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    IfMatch,
    IfNoneMatch,
    etag,
    if_match_versions,
    is_not_modified,
)
from bookstore.api.dependencies import (
    CursorParam,
    Limit,
    Pager,
    PathId,
    search_term,
)
from bookstore.api.errors import RESOURCE_ERROR_RESPONSES
from bookstore.api.responses import ShapedResponse
from bookstore.schemas import INT4_MAX, BookCreate, BookOut, BookPage, BookUpdate
from bookstore.search_log import SearchRecord

router = APIRouter(prefix="/books", tags=["books"], responses=RESOURCE_ERROR_RESPONSES)

AuthorTerm = search_term(200, "Case-insensitive substring of the author's name.")
CategoryTerm = search_term(100, "A category's slug or name, case-insensitive.")
OptionalId = Annotated[int | None, Query(ge=1, le=INT4_MAX)]


def book_page_scope(filters: catalog.BookFilters) -> str:
    """Cursors are bound to the filters they were issued for."""
    return json.dumps(["books", *filters.terms()])


async def fetch_book_page(
    filters: catalog.BookFilters, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of books for ``filters``, continuing after ``cursor``, shaped as ``BookPage``."""
    pager = Pager(book_page_scope(filters))
    items, next_key = await catalog.list_books(filters, limit=limit, after=pager.decode(cursor))
    return {"items": items, "next_cursor": pager.encode(next_key)}


@router.get("", response_model=BookPage, summary="Search and list books")
async def list_books(
    request: Request,
    background: BackgroundTasks,
    author: AuthorTerm = None,  # type: ignore[valid-type]
    category: CategoryTerm = None,  # type: ignore[valid-type]
    author_id: OptionalId = None,
    category_id: OptionalId = None,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> ShapedResponse:
    """Books in (title, id) order; filters combine with AND.

    Every search (any filter given) is logged to ``search_logs`` after the
    response is sent.
    """
    filters = catalog.BookFilters(author, category, author_id, category_id)
    started = time.perf_counter()
    page = await fetch_book_page(filters, limit=limit, cursor=cursor)
    duration_ms = (time.perf_counter() - started) * 1000
    if filters.is_search():
        record = SearchRecord(
            author=author,
            category=category,
            query=request.url.query,
            result_count=len(page["items"]),
            duration_ms=duration_ms,
        )
        background.add_task(request.app.state.search_logger.record, record)
    return ShapedResponse(page)


@router.post(
    "",
    response_model=BookOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteToken],
    responses=UNAUTHORIZED,
)
async def create_book(body: BookCreate, response: Response) -> BookOut:
    fields = body.model_dump(exclude={"category_ids"})
    book = await catalog.create_book(fields, body.category_ids)
    response.headers["ETag"] = etag(book)
    return BookOut.model_validate(book)


@router.get("/{book_id}", response_model=BookOut, responses=NOT_MODIFIED)
async def get_book(
    book_id: PathId, response: Response, if_none_match: IfNoneMatch = None
) -> BookOut | Response:
    """The book, with its ETag; 304 without a body when ``If-None-Match`` names it."""
    book = await catalog.get_book(book_id)
    if is_not_modified(if_none_match, book):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(book)})
    response.headers["ETag"] = etag(book)
    return BookOut.model_validate(book)


@router.patch(
    "/{book_id}",
    response_model=BookOut,
    dependencies=[WriteToken],
    responses={**UNAUTHORIZED, **PRECONDITION_FAILED},
)
async def update_book(
    book_id: PathId, body: BookUpdate, response: Response, if_match: IfMatch = None
) -> BookOut:
    """Change the fields sent; with ``If-Match``, only if the book is still at that ETag."""
    fields = body.model_dump(exclude_unset=True, exclude={"category_ids"})
    book = await catalog.update_book(
        book_id, fields, body.category_ids, expected_versions=if_match_versions(if_match)
    )
    response.headers["ETag"] = etag(book)
    return BookOut.model_validate(book)


@router.delete(
    "/{book_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteToken],
    responses={**UNAUTHORIZED, **PRECONDITION_FAILED},
)
async def delete_book(book_id: PathId, if_match: IfMatch = None) -> Response:
    """Delete the book; with ``If-Match``, only if it is still at that ETag."""
    await catalog.delete_book(book_id, expected_versions=if_match_versions(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
