"""Pages of books: ``GET /books`` and the listings of an author and a category.

A page is one statement: ``pages`` picks the ids of one page by an index in
the page's order, ``details`` fetches those books with their author and
categories. A search by ``?author=`` alone does both and the authors' lookup
in one (``author_search``); other filters are resolved to ids first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bookstore.catalog.author_search import books_of_authors_named
from bookstore.catalog.details import books_with_details_and_version
from bookstore.catalog.filters import (
    BookFilters,
    Criteria,
    found_broad,
    kept_lookups,
    lone_author_fragment,
    resolve,
)
from bookstore.catalog.pages import page_key, page_of_books
from bookstore.catalog.sorts import (
    TITLE,
    PageKey,
    SortOrder,
)
from bookstore.catalog.statements import (
    Row,
    rows_to_fetch,
)
from bookstore.catalog.statistics import stats_cache
from bookstore.database import DatabaseConnection, connection
from bookstore.pagination import SortKey
from bookstore.tables import Book

T = TypeVar("T")


async def _page(
    db: DatabaseConnection,
    filters: BookFilters,
    after: PageKey | None,
    limit: int,
    sort: SortOrder = TITLE,
    *,
    counted: bool = False,
) -> tuple[list[Row], Criteria | None]:
    """Up to ``limit`` books for ``filters`` after ``after``, with their details, and the
    criteria they were found by (None when the one-statement author search found them).

    One statement for ?author= alone (lookup and page together), for
    searches without free-text terms, and for terms whose lookup is kept
    (``filters.KeptLookups``: the page reads the catalog's version to confirm
    it; three when it does not hold); two otherwise (lookup, then page), or
    when an ?author= fragment is found broad. ``counted``: totals or facets
    follow, so the lookup reads the catalog's version for them too.
    """
    fragment = lone_author_fragment(filters) if sort == TITLE else None
    if fragment is not None:
        title_after = None if after is None else SortKey(str(after.value), after.id)
        books = await books_of_authors_named(db, fragment, title_after, limit)
        if books is not None:
            return books, None
        criteria = found_broad(fragment)
    else:
        criteria = await resolve(filters, db, catalog_version=counted, kept=kept_lookups)
        if criteria.unconfirmed:
            if len(criteria.category_sets) > 1:
                criteria = await smallest_first(db, criteria)
            page = page_of_books(criteria, after, limit, sort)
            books, version = await books_with_details_and_version(db, page, sort=sort)
            if version is not None and version == criteria.catalog_version:
                return books, criteria
            # The catalog moved since the terms were looked up (or the page
            # is empty, which tells nothing): look them up again, read again.
            criteria = await resolve(
                filters, db, catalog_version=counted, kept=kept_lookups, refresh=True
            )
        if criteria.matches_nothing():
            return [], criteria
        if len(criteria.category_sets) > 1:
            criteria = await smallest_first(db, criteria)
    page = page_of_books(criteria, after, limit, sort)
    books, _ = await books_with_details_and_version(db, page, sort=sort)
    return books, criteria


# Two categories are read side by side (a merge join) when the second is at
# most this many times the size of the first; beyond, walking the smaller
# one and probing the bigger per book reads less (docs/performance.md).
MERGE_SIZE_RATIO = 20.0


async def smallest_first(db: DatabaseConnection, criteria: Criteria) -> Criteria:
    """``criteria`` with its category sets smallest first, by the statistics.

    With ``category_mode=all`` the first set is walked in order and the
    others probed per book: walking the smallest reads the fewest entries
    when the sets barely intersect, and no more than it holds. When the two
    smallest are single categories of comparable sizes, they are merged
    instead (``merge_first_two_sets``): both ranges read in order, no probe.
    A merge reads the bigger category over the same titles as the smaller,
    so for a small category and a big one the probes stay cheaper.
    """
    stats = await stats_cache.get(db)
    if not stats.known:
        return criteria
    sized = sorted(
        (sum(stats.category_books(c) for c in ids), ids) for ids in criteria.category_sets
    )
    (first_size, _), (second_size, _) = sized[:2]
    merge = all(len(ids) == 1 for _, ids in sized) and (
        second_size <= MERGE_SIZE_RATIO * max(first_size, 1.0)
    )
    return dataclasses.replace(
        criteria,
        category_sets=tuple(ids for _, ids in sized),
        merge_first_two_sets=merge,
    )


Then = Callable[[DatabaseConnection, Criteria], Awaitable[T]]


async def list_books(
    filters: BookFilters,
    *,
    limit: int,
    after: SortKey | PageKey | None = None,
    sort: SortOrder = TITLE,
) -> tuple[list[Row], PageKey | None]:
    """One page in ``sort``'s order (title by default), and the key to continue after, if any.

    Keyset pagination: every page costs the same, the thousandth as much as
    the first. One statement per page; a search by ?author= alone looks
    its authors up in the same statement, other searches with ?author= or
    ?category= in one more, unless the answer of that lookup is kept for the
    catalog's version (``filters.KeptLookups``).
    """
    books, next_key, _ = await list_books_then(filters, limit=limit, after=after, sort=sort)
    return books, next_key


async def list_books_then(
    filters: BookFilters,
    *,
    limit: int,
    after: SortKey | PageKey | None = None,
    sort: SortOrder = TITLE,
    then: Then[T] | None = None,
) -> tuple[list[Row], PageKey | None, T | None]:
    """``list_books``, then ``then`` on the same connection with the criteria it resolved.

    What the page's totals and facets need (``bookstore.catalog.counts``):
    the terms are looked up once for both.
    """
    after_then = None
    async with connection(Book._meta.db) as db:
        # One extra row tells whether a next page exists.
        page, criteria = await _page(
            db, filters, page_key(after), rows_to_fetch(limit + 1), sort, counted=then is not None
        )
        if then is not None:
            if criteria is None:
                criteria = await resolve(filters, db, catalog_version=True)
            after_then = await then(db, criteria)
    books = page[: limit + 1]
    next_key = None
    if len(books) > limit:
        books = books[:limit]
        next_key = PageKey(sort.value_of(books[-1]), books[-1]["id"])
    return books, next_key, after_then
