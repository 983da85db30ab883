"""/books: the catalog search and book CRUD."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, TokenFirstRoute, WriteToken
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
from bookstore.catalog.search import TextQuery, search_books
from bookstore.catalog.search.suggest import suggest
from bookstore.pagination import decode_search_cursor, encode_search_cursor
from bookstore.schemas import (
    INT4_MAX,
    BookCreate,
    BookOut,
    BookPage,
    BookUpdate,
    SuggestionList,
    refuse_nul,
)
from bookstore.search_log import SearchRecord

router = APIRouter(
    prefix="/books",
    tags=["books"],
    responses=RESOURCE_ERROR_RESPONSES,
    route_class=TokenFirstRoute,
)

AuthorTerm = search_term(200, "Case-insensitive substring of the author's name.")
CategoryTerm = search_term(100, "A category's slug or name, case-insensitive.")
OptionalId = Annotated[int | None, Query(ge=1, le=INT4_MAX)]

# Longest search text, after trimming: longer is refused, not cut.
MAX_QUERY_TEXT = 200


def _search_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    if len(text) > MAX_QUERY_TEXT:
        raise ValueError(f"must be at most {MAX_QUERY_TEXT} characters after trimming")
    return value  # as typed: a trailing space means the last word is complete


SearchText = Annotated[
    str | None,
    Query(
        max_length=2000,
        description=(
            "Search text, 1 to 200 characters: every word must match title, author, category"
            ' or description (typos tolerated, accents ignored); `"two words"` next to each'
            " other; `-word` excluded; the last word also as a prefix unless followed by a"
            " space."
        ),
        examples=["tolkein hobit"],
    ),
    AfterValidator(refuse_nul),
    AfterValidator(lambda value: None if value is None else _search_text(value)),
]


def book_page_scope(filters: catalog.BookFilters) -> str:
    """Cursors are bound to the filters they were issued for."""
    return json.dumps(["books", *filters.terms()])


async def fetch_book_page(
    request: Request, filters: catalog.BookFilters, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of books for ``filters``, continuing after ``cursor``, shaped as ``BookPage``."""
    pager = Pager(book_page_scope(filters), request.app.state.cursor_secret)
    items, next_key = await catalog.list_books(filters, limit=limit, after=pager.decode(cursor))
    return {"items": items, "next_cursor": pager.encode(next_key)}


async def fetch_search_page(
    request: Request,
    filters: catalog.BookFilters,
    text: TextQuery,
    *,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of the books matching ``text`` (``q=``), shaped as ``BookPage``."""
    scope = json.dumps(["search", text.q, text.sort, *filters.terms()])
    pager = Pager(scope, request.app.state.cursor_secret)
    after = None
    if cursor is not None:
        after = decode_search_cursor(cursor, scope=pager.scope, secret=pager.secret)
    result = await search_books(filters, text, limit=limit, after=after)
    next_cursor = None
    if result.next_key is not None:
        next_cursor = encode_search_cursor(result.next_key, scope=pager.scope, secret=pager.secret)
    return {
        "items": result.books,
        "next_cursor": next_cursor,
        "ignored_words": result.ignored_words,
        "suggestion": result.suggestion,
    }


@router.get(
    "", response_model=BookPage, response_model_exclude_unset=True, summary="Search and list books"
)
async def list_books(
    request: Request,
    background: BackgroundTasks,
    q: SearchText = None,  # type: ignore[valid-type]
    author: AuthorTerm = None,  # type: ignore[valid-type]
    category: CategoryTerm = None,  # type: ignore[valid-type]
    author_id: OptionalId = None,
    category_id: OptionalId = None,
    sort: Annotated[
        Literal["relevance", "title"] | None,
        Query(description="`relevance` (the default with `q`; needs `q`) or `title`."),
    ] = None,
    highlight: Annotated[
        bool, Query(description="With `q`: add `title_highlight` to each book.")
    ] = False,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> ShapedResponse:
    """Books matching every filter given (AND): by relevance with ``q``, else by title.

    Every search (any filter given) is logged to ``search_logs`` after the
    response is sent.
    """
    filters = catalog.BookFilters(author, category, author_id, category_id)
    started = time.perf_counter()
    if q is not None:
        text = TextQuery(q, sort or "relevance", highlight)
        page = await fetch_search_page(request, filters, text, limit=limit, cursor=cursor)
    elif sort == "relevance":
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "sort"),
                    "msg": "relevance needs q",
                    "input": sort,
                }
            ]
        )
    else:
        page = await fetch_book_page(request, filters, limit=limit, cursor=cursor)
    duration_ms = (time.perf_counter() - started) * 1000
    if q is not None or filters.is_search():
        record = SearchRecord(
            author=author,
            category=category,
            q=q,
            query=request.url.query,
            result_count=len(page["items"]),
            duration_ms=duration_ms,
        )
        background.add_task(request.app.state.search_logger.record, record)
    return ShapedResponse(page)


@router.get("/suggest", response_model=SuggestionList, summary="Complete what is being typed")
async def suggest_books(
    q: Annotated[
        str,
        Query(min_length=1, max_length=200, description="What has been typed so far."),
        AfterValidator(refuse_nul),
    ],
    limit: Annotated[int, Query(ge=1, le=20, description="At most this many, 1 to 20.")] = 8,
) -> ShapedResponse:
    """Titles, authors and categories completing ``q``, with the search box's typo and
    accent rules. Meant for every keystroke: not logged."""
    return ShapedResponse({"items": await suggest(q, limit=limit)})


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
