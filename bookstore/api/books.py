"""/books: the catalog search and book CRUD."""

from __future__ import annotations

import json
import time
from dataclasses import astuple
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from bookstore import catalog
from bookstore.api.dependencies import (
    CursorParam,
    Limit,
    Pager,
    PathId,
    SearchLoggerDep,
    search_term,
)
from bookstore.schemas import INT4_MAX, BookCreate, BookOut, BookPage, BookUpdate
from bookstore.search_log import SearchRecord

router = APIRouter(prefix="/books", tags=["books"])

AuthorTerm = search_term(200, "Case-insensitive substring of the author's name.")
CategoryTerm = search_term(100, "A category's slug or name, case-insensitive.")
OptionalId = Annotated[int | None, Query(ge=1, le=INT4_MAX)]


def book_page_scope(filters: catalog.BookFilters) -> str:
    """Cursors are bound to the filters they were issued for."""
    return json.dumps(["books", *astuple(filters)])


async def fetch_book_page(
    filters: catalog.BookFilters, *, limit: int, cursor: str | None
) -> BookPage:
    """One page of books for ``filters``, continuing after ``cursor``."""
    pager = Pager(book_page_scope(filters))
    items, next_key = await catalog.list_books(filters, limit=limit, after=pager.decode(cursor))
    return BookPage.model_validate({"items": items, "next_cursor": pager.encode(next_key)})


@router.get("", response_model=BookPage, summary="Search and list books")
async def list_books(
    request: Request,
    background: BackgroundTasks,
    search_logger: SearchLoggerDep,
    author: AuthorTerm = None,  # type: ignore[valid-type]
    category: CategoryTerm = None,  # type: ignore[valid-type]
    author_id: OptionalId = None,
    category_id: OptionalId = None,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> BookPage:
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
            result_count=len(page.items),
            duration_ms=duration_ms,
        )
        background.add_task(search_logger.write, record)
    return page


@router.post("", response_model=BookOut, status_code=status.HTTP_201_CREATED)
async def create_book(body: BookCreate) -> BookOut:
    fields = body.model_dump(exclude={"category_ids"})
    book = await catalog.create_book(fields, body.category_ids)
    return BookOut.model_validate(book)


@router.get("/{book_id}", response_model=BookOut)
async def get_book(book_id: PathId) -> BookOut:
    return BookOut.model_validate(await catalog.get_book(book_id))


@router.patch("/{book_id}", response_model=BookOut)
async def update_book(book_id: PathId, body: BookUpdate) -> BookOut:
    fields = body.model_dump(exclude_unset=True, exclude={"category_ids"})
    book = await catalog.update_book(book_id, fields, body.category_ids)
    return BookOut.model_validate(book)


@router.delete("/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(book_id: PathId) -> Response:
    await catalog.delete_book(book_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
