"""Text search, ``GET /books?q=``: a pipeline, one step per module.

1. ``words``: the query folded (case, accents) and split into terms, quoted
   phrases and excluded words.
2. ``typos`` and ``vocabulary``: each term looked up in the catalog's
   vocabulary, corrected within its allowed typos when it is not there, and
   the last one completed as a prefix while it is being typed.
3. ``ranking``: a book's score from the fields its words are found in.
4. ``pages``: the statement for one page, best first, after a cursor.
5. ``highlight``: the matched words of each title marked.
6. ``did_you_mean``: the suggestion, for a search whose words were corrected
   or that found nothing.

``search_books`` chains them; docs/search.md explains the design.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace

from piccolo.querystring import QueryString

from bookstore.catalog.details import books_with_details_and_version
from bookstore.catalog.filters import BookFilters, Criteria, criteria_lookup
from bookstore.catalog.listing import list_books
from bookstore.catalog.search.candidates import page_of_gin
from bookstore.catalog.search.did_you_mean import corrected_text, text_beyond_typos
from bookstore.catalog.search.highlight import highlight_title, stems_of
from bookstore.catalog.search.kept_pages import keep_first_page, kept_first_page
from bookstore.catalog.search.level_walk import FirstWalk
from bookstore.catalog.search.levels import best_matches
from bookstore.catalog.search.ordered import page_by_title_walk, page_in_order, title_walk_bound
from bookstore.catalog.search.pages import (
    FEW_AUTHORS_BOOKS,
    FIRST,
    SMALL_CATEGORY,
    Match,
    Relevance,
    match_of,
    page_among_authors,
    page_by_relevance,
    page_by_title,
)
from bookstore.catalog.search.plans import gin_first, plan_in_category, reads_authors_books
from bookstore.catalog.search.vocabulary import (
    ResolvedTerm,
    look_up_query,
)
from bookstore.catalog.search.words import ParsedQuery, parse_query
from bookstore.catalog.sorts import TITLE, PageKey, SortOrder, decode_key, sort_order
from bookstore.catalog.statements import Row, rows_to_fetch
from bookstore.database import DatabaseConnection, connection
from bookstore.errors import InvalidCursor, NothingToSearch
from bookstore.pagination import SearchKey
from bookstore.tables import Book

# "relevance", "title", or any order of ``bookstore.catalog.sorts``.
Sort = str


@dataclass(frozen=True)
class TextQuery:
    """What the search box sent: the text, the order, and whether to mark titles."""

    q: str
    sort: Sort = "relevance"
    highlight: bool = False


@dataclass
class SearchResult:
    books: list[Row]
    next_key: SearchKey | None
    ignored_words: list[str] = field(default_factory=list)
    suggestion: str | None = None
    # The words searched (after any were dropped): what the facets and the
    # total of the search count (``bookstore.catalog.counts``).
    match: Match | None = None
    # No word could be searched (stop words only, or no word at all): the
    # books are the filters' listing, and so are the total and facets.
    listed: bool = False


def _sort_order(order: Sort) -> SortOrder:
    """The listing order of a search's ``sort``: title for "title", and for "relevance",
    whose pages go by score and whose stop-words-only listing goes by title."""
    return TITLE if order in ("relevance", "title") else sort_order(order)


async def _page(
    db: DatabaseConnection,
    match: Match,
    criteria: Criteria,
    text: TextQuery,
    after: SearchKey | None,
    limit: int,
    catalog_books: int,
    catalog_version: int | None,
) -> list[Row]:
    """The page's books; ``catalog_books``: about how many the catalog holds.

    Their categories are shown by the names kept for the catalog version the
    page's statement reads, as a listing's are (``details``), not for
    ``catalog_version``: what this process knew before the page was read.
    """
    if criteria.matches_nothing():
        return []
    rows = rows_to_fetch(limit + 1)
    sort = _sort_order(text.sort)
    page = await _page_of_ids(
        db, match, criteria, text.sort, after, rows, catalog_books, catalog_version, sort
    )
    by_score = text.sort == "relevance"
    books, _ = await books_with_details_and_version(
        db, page, scored=True, by_score=by_score, sort=sort
    )
    if type(page) is FirstWalk and len(books) < page.rows:
        # The walk fell short of a page: the page by levels, or by sorting
        # every match for title order.
        books, _ = await books_with_details_and_version(
            db, page.whole, scored=True, by_score=by_score, sort=sort
        )
    return books


async def _page_of_ids(
    db: DatabaseConnection,
    match: Match,
    criteria: Criteria,
    order: Sort,
    after: SearchKey | None,
    rows: int,
    catalog_books: int,
    catalog_version: int | None,
    sort: SortOrder,
) -> QueryString:
    """The statement of the page's ids and scores: ``rows`` of them, in ``order``
    (``sort`` when it is neither "relevance" nor "title")."""
    if order not in ("relevance", "title"):
        key = None if after is None else decode_key(sort, [after.order, after.id])
        return page_in_order(match, criteria, sort, key, rows)
    if order == "title":
        after_title = None if after is None else (str(after.order), after.id)
        whole = page_by_title(match, criteria, after_title, rows)
        bound = title_walk_bound(match, criteria, rows, catalog_books)
        if bound is None:
            return whole
        return FirstWalk(page_by_title_walk(match, after_title, rows, bound), whole, rows)
    if after is not None:
        resume = Relevance(int(after.order), after.id)
        return await _planned(db, match, criteria, resume, rows, catalog_books, catalog_version)
    page = kept_first_page(catalog_version, match, criteria, rows, catalog_books)
    if page is None:
        page = await _planned(db, match, criteria, FIRST, rows, catalog_books, catalog_version)
        keep_first_page(catalog_version, match, criteria, rows, catalog_books, page)
    return page


async def _planned(
    db: DatabaseConnection,
    match: Match,
    criteria: Criteria,
    resume: Relevance,
    rows: int,
    catalog_books: int,
    catalog_version: int | None,
) -> QueryString:
    """The statement of a page by relevance after ``resume``, by the cheapest plan."""
    if reads_authors_books(match.terms, criteria, catalog_books, FEW_AUTHORS_BOOKS):
        return page_among_authors(match, criteria, resume, rows)
    plan = plan_in_category(match.terms, criteria, catalog_books, SMALL_CATEGORY)
    if plan.gin:
        return page_of_gin(match, criteria, resume, rows, plan.gin_keys, plan.category_ids)
    keys = None if criteria.category_sets else gin_first(match.terms, catalog_books)
    if keys is not None:
        return page_of_gin(match, criteria, resume, rows, keys)
    small_category = plan.small_category
    if small_category is None and len(match.terms) > 1:
        by_levels = await best_matches(
            db,
            match,
            criteria,
            resume,
            rows,
            known_version=catalog_version,
            catalog_books=catalog_books,
        )
        if by_levels is not None:
            return by_levels
    return page_by_relevance(match, criteria, resume, rows, small_category)


async def first_match_ids(
    db: DatabaseConnection,
    match: Match,
    *,
    rows: int,
    catalog_books: int,
    catalog_version: int | None,
) -> QueryString:
    """The statement of the ids and scores of ``match``'s best ``rows`` books, no filter.

    What ``search_books`` reads for a first page by relevance, through the
    same planners (GIN scan, level walk or postings walk), so that a
    completion offering titles (``suggest``) offers the books the search
    would show first, never a list of its own.
    """
    page = await _page_of_ids(
        db,
        match,
        Criteria(),
        "relevance",
        None,
        rows,
        catalog_books,
        catalog_version,
        TITLE,
    )
    # The completions embed the statement: the page by levels, whole.
    return page.whole if type(page) is FirstWalk else page


def _cut(
    books: list[Row], limit: int, text: TextQuery, dropped: int
) -> tuple[list[Row], SearchKey | None]:
    """The page, and the key of its last book when a next page exists."""
    if len(books) <= limit:
        return books, None
    books = books[:limit]
    last = books[-1]
    order = last["title"] if text.sort == "title" else last["score"]
    if text.sort not in ("relevance", "title"):
        sort = sort_order(text.sort)
        (order, _) = PageKey(sort.value_of(last), last["id"]).encode(sort)
    return books, SearchKey(order, last["id"], dropped)


async def search_books(
    filters: BookFilters,
    text: TextQuery,
    *,
    limit: int,
    after: SearchKey | None = None,
    catalog_version: int | None = None,
) -> SearchResult:
    """One page of the books matching ``text`` and ``filters``, and where the next starts.

    Every term must match. When no book matches them all, the terms that
    match nothing are dropped, then the last ones, one at a time, until
    some book matches (Meilisearch's "last" strategy); the response names
    the words ignored, and later pages keep the same words.
    ``catalog_version``: the version this process knows the catalog to be
    at, under which the terms' lookups are kept (``kept_terms``).
    """
    query = parse_query(text.q)
    if query.empty:
        if query.excluded:
            raise NothingToSearch(text.q)
        # No word at all ("!!!"): nothing to search, as for stop words only,
        # and answered the same way, not by an empty page.
        return await _listing(filters, text, limit, after, [])
    async with connection(Book._meta.db) as db:
        result = await _search(db, query, filters, text, limit, after, catalog_version)
    if result.listed:
        return await _listing(filters, text, limit, after, result.ignored_words)
    return result


async def _search(
    db: DatabaseConnection,
    query: ParsedQuery,
    filters: BookFilters,
    text: TextQuery,
    limit: int,
    after: SearchKey | None,
    catalog_version: int | None,
    *,
    suggest: bool = True,
) -> SearchResult:
    """``search_books`` on ``db``; ``suggest``: whether to work out a suggestion."""
    # The terms' statement also looks up the filters' categories and authors
    # (by relevance, with the categories' sizes, which choose how a category
    # is searched).
    lookup = criteria_lookup(filters, category_books=text.sort == "relevance")
    # One per term of the query, in its order (the phrases name them so).
    looked_up, found = await look_up_query(
        db,
        query,
        alongside=lookup.columns,
        alongside_key=lookup.key(),
        known_version=catalog_version,
    )
    criteria = lookup.criteria(found)
    catalog_books = found.get("top_book") or 0
    # Stop words ("the", "of") are not searched, nor reported.
    searched = [n for n, t in enumerate(looked_up) if t.variants or t.lexeme is not None]
    active = [n for n in searched if looked_up[n].variants]
    ignored = [looked_up[n].term.typed for n in searched if not looked_up[n].variants]
    if not searched:
        if query.excluded:
            raise NothingToSearch(text.q)
        # Stop words only: ``search_books`` answers the filters' listing.
        return SearchResult([], None, [t.term.typed for t in looked_up], listed=True)
    if after is not None and text.sort == "relevance" and type(after.order) is not int:
        # A cursor of the listing, for a text that now finds words (a book
        # added since completes "the"): signed for it, not for this order.
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    dropped = 0 if after is None else min(after.dropped, max(len(active) - 1, 0))
    books: list[Row] = []
    match: Match | None = None
    while active:
        kept = active[: len(active) - dropped]
        match = match_of(query, looked_up, kept)
        books = await _page(
            db, match, criteria, text, after, limit, catalog_books, catalog_version
        )
        if books or after is not None or len(kept) == 1:
            break
        dropped += 1
    kept = active[: len(active) - dropped]
    ignored += [looked_up[n].term.typed for n in active[len(kept) :]]
    books, next_key = _cut(books, limit, text, dropped)
    if text.highlight and books:
        stems = await stems_of(db, [book["title"] for book in books])
        matched = {word for n in kept for word in looked_up[n].words}
        last = looked_up[kept[-1]]
        typing = last.term.folded if query.prefix and kept[-1] == active[-1] else None
        for book in books:
            book["title_highlight"] = highlight_title(book["title"], matched, stems, typing)
    suggestion = None
    if suggest:
        suggestion = await corrected_text(db, query, looked_up, catalog_version)
        if not books and after is None:
            beyond = await _found_beyond_typos(
                db, query, looked_up, filters, text, catalog_version
            )
            suggestion = beyond or suggestion
    return SearchResult(books, next_key, ignored, suggestion, match)


async def _found_beyond_typos(
    db: DatabaseConnection,
    query: ParsedQuery,
    resolved: list[ResolvedTerm],
    filters: BookFilters,
    text: TextQuery,
    catalog_version: int | None,
) -> str | None:
    """``did_you_mean.text_beyond_typos``, if that text finds a book.

    Checked by one more search with the same filters and order and a page
    of one book, so that no suggestion a customer clicks finds nothing
    either: "hobbbbbit" with ``author=le guin`` suggests nothing.
    """
    suggestion = await text_beyond_typos(db, query, resolved, catalog_version)
    if suggestion is None:
        return None
    checked = parse_query(suggestion)
    found = await _search(
        db,
        checked,
        filters,
        replace(text, q=suggestion, highlight=False),
        1,
        None,
        catalog_version,
        suggest=False,
    )
    return suggestion if found.books else None


async def _listing(
    filters: BookFilters,
    text: TextQuery,
    limit: int,
    after: SearchKey | None,
    stop_words: list[str],
) -> SearchResult:
    """The filters' listing, for a text made of stop words only ("the", "of the"),
    or of no word at all ("!!!", "...": ``stop_words`` is then empty).

    They are not indexed, so they can find nothing, and an empty answer to
    ``q=the&author=tolkien`` looks like "Tolkien wrote nothing": as
    Meilisearch answers a text of ignored words with every document, the
    listing is answered (title order for ``relevance``, every book the same
    score), the words named in ``ignored_words``, its cursors those of the
    listing carried by the search's. Read on a connection of its own, after
    the lookup's is given back.
    """
    sort = _sort_order(text.sort)
    key = None if after is None else decode_key(sort, [after.order, after.id])
    books, next_key = await list_books(filters, limit=limit, after=key, sort=sort)
    for book in books:
        book["score"] = 0
        if text.highlight:
            book["title_highlight"] = html.escape(book["title"])
    cursor = None if next_key is None else SearchKey(*next_key.encode(sort), 0)
    return SearchResult(books, cursor, stop_words, listed=True)
