"""/books: the catalog search and book CRUD."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from starlette.types import Scope

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, TokenFirstRoute, WriteToken
from bookstore.api.cached_listings import remember_search
from bookstore.api.conditional import (
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    IfMatch,
    IfNoneMatch,
    etag,
    if_match_versions,
    is_not_modified,
)
from bookstore.api.dependencies import Pager, PathId
from bookstore.api.errors import RESOURCE_ERROR_RESPONSES
from bookstore.api.responses import ShapedResponse
from bookstore.catalog.counts import Counts, count_matching, counting
from bookstore.catalog.filters import CategoryMode
from bookstore.catalog.listing import list_books_then
from bookstore.catalog.search import TextQuery, search_books
from bookstore.catalog.search.pages import Match
from bookstore.catalog.search.suggest import suggest
from bookstore.catalog.sorts import TITLE, SortOrder, decode_key, sort_order
from bookstore.errors import InvalidCursor
from bookstore.pagination import decode_values, encode_values
from bookstore.schemas import (
    BookCreate,
    BookOut,
    BookPage,
    BookQuery,
    BookUpdate,
    BrowseQuery,
    SuggestionList,
    SuggestQuery,
)
from bookstore.search_log import SearchRecord

router = APIRouter(
    prefix="/books",
    tags=["books"],
    responses=RESOURCE_ERROR_RESPONSES,
    route_class=TokenFirstRoute,
)


def logged_query(scope: Scope) -> str:
    """The query string as ``request.url.query`` gives it, without building the URL.

    ``request.url`` writes the whole URL and ``urlsplit`` parses it again; the
    parse's cache (128 URLs) misses for nearly every search text, so each
    ``q=`` request paid for both (about 70,000 instructions, 2026-11-30). The
    same text: decoded as UTF-8, without tabs and line breaks (``urlsplit``
    drops them), cut at a ``#`` (a fragment to ``urlsplit``).
    """
    query = scope.get("query_string", b"").decode()
    if "\t" in query or "\r" in query or "\n" in query:
        query = query.replace("\t", "").replace("\r", "").replace("\n", "")
    return query.partition("#")[0]


def book_page_scope(filters: catalog.BookFilters, sort: SortOrder = TITLE) -> str:
    """Cursors are bound to the filters and the sort they were issued for."""
    return json.dumps(["books", sort.name, *filters.terms()])


def _book_cursor_values(
    cursor: str, filters: catalog.BookFilters, sort: SortOrder, secret: str
) -> object:
    """The values of a cursor of this listing, checked against its signature.

    A cursor issued before issue 10 (signed for the filters alone, when
    listings were by title only) is still taken for the title order: it
    holds the same (title, id), and a shopper paging across a deploy gets
    the next page rather than a 422.
    """
    try:
        return decode_values(cursor, scope=book_page_scope(filters, sort), secret=secret)
    except InvalidCursor:
        earlier = filters.terms_before_browsing() if sort == TITLE else None
        if earlier is None:
            raise
        return decode_values(cursor, scope=json.dumps(["books", *earlier]), secret=secret)


async def fetch_book_page(
    request: Request,
    filters: catalog.BookFilters,
    *,
    limit: int,
    cursor: str | None,
    sort: SortOrder = TITLE,
    counts: BrowseQuery | None = None,
) -> dict[str, Any]:
    """One page of books for ``filters``, continuing after ``cursor``, shaped as ``BookPage``;
    with the total and facets ``counts`` asks for, counted on the same connection."""
    scope, secret = book_page_scope(filters, sort), request.app.state.cursor_secret
    after = None
    if cursor is not None:
        after = decode_key(sort, _book_cursor_values(cursor, filters, sort, secret))
    facets = counts.facets.split(",") if counts and counts.facets else []
    with_total = counts is not None and counts.with_total
    then = None
    if facets or with_total:
        assert counts is not None
        then = counting(total=with_total, facets=facets, facet_limit=counts.facet_limit)
    items, next_key, counted = await list_books_then(
        filters, limit=limit, after=after, sort=sort, then=then
    )
    next_cursor = None
    if next_key is not None:
        next_cursor = encode_values(next_key.encode(sort), scope=scope, secret=secret)
    page: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if counted is not None:
        _put_counts(page, counted, with_total=with_total, facets=bool(facets))
    return page


def _put_counts(page: dict[str, Any], counts: Counts, *, with_total: bool, facets: bool) -> None:
    if with_total:
        page["total"] = counts.total
        page["total_is_estimate"] = counts.total_is_estimate
    if facets:
        page["facets"] = counts.facets
        page["facets_is_estimate"] = counts.facets_is_estimate


async def add_counts(
    page: dict[str, Any],
    filters: catalog.BookFilters,
    params: BrowseQuery,
    match: Match | None = None,
    *,
    searched: bool = False,
) -> None:
    """``total`` and ``facets`` of the page's filters, when the parameters ask for them.

    ``searched``: the page is a text search, whose words are ``match`` (None
    when no word of ``q`` could be searched: nothing matches).
    """
    facets = params.facets.split(",") if params.facets else []
    if not params.with_total and not facets:
        return
    if searched and match is None:
        counts = Counts(0, False, {facet: [] for facet in facets}, False)
    else:
        counts = await count_matching(
            filters,
            total=params.with_total,
            facets=facets,
            facet_limit=params.facet_limit,
            match=match,
        )
    _put_counts(page, counts, with_total=params.with_total, facets=bool(facets))


def browse_filters(
    params: BrowseQuery,
    *,
    author: str | None = None,
    author_id: int | None = None,
    category: list[str] | None = None,
    category_id: list[int] | None = None,
    category_mode: CategoryMode = "any",
) -> catalog.BookFilters:
    """The ``BookFilters`` of a listing's parameters (the route's own path id included)."""
    return catalog.BookFilters(
        author=author,
        category=tuple(category or ()),
        author_id=author_id,
        category_id=tuple(category_id or ()),
        category_mode=category_mode,
        year_min=params.year_min,
        year_max=params.year_max,
        price_min=params.price_min,
        price_max=params.price_max,
    )


async def fetch_search_page(
    request: Request,
    filters: catalog.BookFilters,
    text: TextQuery,
    *,
    limit: int,
    cursor: str | None,
    counts: BrowseQuery | None = None,
) -> dict[str, Any]:
    """One page of the books matching ``text`` (``q=``), shaped as ``BookPage``; with the
    total and facets ``counts`` asks for."""
    scope = json.dumps(["search", text.q, text.sort, *filters.terms()])
    pager = Pager(scope, request.app.state.cursor_secret)
    result = await search_books(
        filters,
        text,
        limit=limit,
        after=pager.decode_search(cursor),
        catalog_version=request.app.state.catalog_version.value,
    )
    page = {
        "items": result.books,
        "next_cursor": pager.encode_search(result.next_key),
        "ignored_words": result.ignored_words,
        "suggestion": result.suggestion,
    }
    if counts is not None:
        await add_counts(page, filters, counts, result.match, searched=not result.listed)
    return page


@router.get(
    "",
    response_model=BookPage,
    response_model_exclude_unset=True,
    summary="Search and list books",
)
async def list_books(
    request: Request, background: BackgroundTasks, params: Annotated[BookQuery, Query()]
) -> ShapedResponse:
    """Books matching every filter given (AND): by relevance with ``q``, else by title.

    Every search (any filter given) is logged to ``search_logs`` after the
    response is sent.
    """
    filters = browse_filters(
        params,
        author=params.author,
        author_id=params.author_id,
        category=params.category,
        category_id=params.category_id,
        category_mode=params.category_mode,
    )
    started = time.perf_counter()
    if params.q is not None:
        text = TextQuery(params.q, params.sort or "relevance", params.highlight)
        page = await fetch_search_page(
            request, filters, text, limit=params.limit, cursor=params.cursor, counts=params
        )
    else:
        sort = sort_order(params.sort or "title")
        page = await fetch_book_page(
            request, filters, limit=params.limit, cursor=params.cursor, sort=sort, counts=params
        )
    duration_ms = (time.perf_counter() - started) * 1000
    if params.q is not None or filters.is_search():
        record = SearchRecord(
            author=params.author,
            category=",".join(params.category) if params.category else None,
            q=params.q,
            query=logged_query(request.scope),
            result_count=len(page["items"]),
            duration_ms=duration_ms,
        )
        background.add_task(request.app.state.search_logger.record, record)
        remember_search(request.scope, record)
    return ShapedResponse(page)


@router.get(
    "/suggest",
    response_model=SuggestionList,
    summary="Complete what is being typed",
)
async def suggest_books(
    request: Request, params: Annotated[SuggestQuery, Query()]
) -> ShapedResponse:
    """Titles, authors and categories completing ``q``, with the search box's typo and
    accent rules. Meant for every keystroke: not logged."""
    items = await suggest(
        params.q, limit=params.limit, catalog_version=request.app.state.catalog_version.value
    )
    return ShapedResponse({"items": items})


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
