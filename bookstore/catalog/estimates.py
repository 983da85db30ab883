"""What PostgreSQL's statistics say of a set's facets, and of a text search's share.

``bookstore.catalog.counts`` counts what is cheap to count and turns here
for what is not: a set narrowed by year and price ranges at most (the whole
catalog, a wide range) is too large to sample in a bounded read, so its
category, decade and price-band facets come from ``CatalogStats`` (read
once a minute from ``pg_stats``), the conditions taken as independent; a
text search's total is scaled by the share of books holding its words
(the vocabulary's counts). Estimates only: the response flags them.

Usage::

    stats = await stats_cache.get(db)
    await categories_from_stats(db, stats, criteria, limit=20)
    histogram_counts(stats, criteria, "decade")
"""

from __future__ import annotations

import heapq

from bookstore.catalog.category_counts import PRICE_BANDS, kept_cells_and_names
from bookstore.catalog.category_names import CategoryNames
from bookstore.catalog.filters import Criteria
from bookstore.catalog.search.pages import Match
from bookstore.catalog.sorts import TITLE, SortOrder, sort_order
from bookstore.catalog.statements import Row
from bookstore.catalog.statistics import CatalogStats, floats
from bookstore.database import DatabaseConnection

# Every category of the statistics, largest first, ties by id: (books, id).
# Computed once per ``CatalogStats`` (read once a minute), not per request;
# the one slot is replaced when the statistics are.
_ranked_for: tuple[CatalogStats, list[tuple[float, int]]] | None = None


def _ranked(stats: CatalogStats) -> list[tuple[float, int]]:
    """``stats``' categories as (books, id), most books first, ties by id."""
    global _ranked_for
    if _ranked_for is None or _ranked_for[0] is not stats:
        ranked = sorted(
            (
                (stats.category_books(category_id), category_id)
                for category_id in stats.category_share
            ),
            key=lambda pair: (-pair[0], pair[1]),
        )
        _ranked_for = (stats, ranked)
    return _ranked_for[1]


# The category facets last answered for one statistics snapshot and one
# read of the names, by (limit, share of the catalog in the ranges): a
# category's page asks the same one (all of the catalog, 20) every time.
_facets_for: tuple[CatalogStats, CategoryNames, dict[tuple[int, float], list[Row]]] | None = None
# Facets kept per snapshot; beyond, they are all dropped and counted again.
_KEPT_FACETS = 64


async def categories_from_stats(
    db: DatabaseConnection,
    stats: CatalogStats,
    criteria: Criteria,
    limit: int,
    names: CategoryNames | None = None,
) -> list[Row]:
    """The category facet of a set narrowed by ranges only, from the statistics.

    ``names``: every category's id, name and slug, when already read
    (``kept_cells_and_names``, once per catalog version).

    What it says depends on the statistics, the names, ``limit`` and the
    ranges' share of the catalog only, so it is counted once per snapshot
    of the statistics and of the names and handed out as copies.
    """
    global _facets_for
    share = stats.year.share_between(*floats(criteria.year)) * stats.price.share_between(
        *floats(criteria.price)
    )
    if names is None:
        _, names = await kept_cells_and_names(
            db, None, names=True, seen_version=criteria.catalog_version
        )
        assert names is not None
    if _facets_for is None or _facets_for[0] is not stats or _facets_for[1] is not names:
        _facets_for = (stats, names, {})
    kept = _facets_for[2]
    facet = kept.get((limit, share))
    if facet is None:
        if len(kept) >= _KEPT_FACETS:
            kept.clear()
        facet = kept[limit, share] = _categories_counted(stats, names, share, limit)
    return [dict(value) for value in facet]


def _categories_counted(
    stats: CatalogStats, names: CategoryNames, share: float, limit: int
) -> list[Row]:
    """The ``limit`` largest categories, each ``share`` of its books by the statistics.

    Only the categories that can be among the ``limit`` largest are
    counted: the statistics' ranking (``_ranked``) is walked while the counts
    can still reach the ``limit``-th one (rounding ties them, so those tied
    with it are taken too and ordered by id); the categories the statistics
    do not list share one size and join as candidates. A store's every
    category counted and sorted per request was most of this facet's time.
    """
    by_id = names.by_id
    # Largest first, ties by id (as ``counts._largest``), compared as plain tuples.
    counted: list[tuple[int, int, Row]] = []
    floor = 0
    for books, category_id in _ranked(stats):
        count = round(books * share)
        if count <= 0 or count < floor:
            break  # counts only fall from here on
        row = by_id.get(category_id)
        if row is None:
            continue  # gone since the statistics were read
        counted.append((-count, category_id, row))
        if len(counted) == limit:
            floor = count
    unlisted = by_id.keys() - stats.category_share.keys()
    if unlisted:
        count = round(stats.links * stats.other_category_share * share)
        if count > 0:
            counted.extend((-count, category_id, by_id[category_id]) for category_id in unlisted)
    return [
        {"id": row["id"], "name": row["name"], "slug": row["slug"], "count": -negative}
        for negative, _, row in heapq.nsmallest(limit, counted)
    ]


def histogram_counts(stats: CatalogStats, criteria: Criteria, facet: str) -> list[tuple[int, int]]:
    """The decade or price_band facet of a set narrowed by ranges only, from the histograms.

    (count, value) pairs, the value a decade's first year or a band's number
    in ``PRICE_BANDS``, in no order: the caller keeps the largest. Year and
    price taken as independent: the decade counts of the books in a price
    range are the year histogram's, scaled by the range's share.
    """
    books = stats.books
    values: list[tuple[int, int]] = []
    if facet == "decade":
        others = stats.price.share_between(*floats(criteria.price))
        low, high = (floats(criteria.year)[0], floats(criteria.year)[1])
        years = [*stats.year.common, *stats.year.bounds]
        if not years:
            return []
        first = int(min(years)) // 10 * 10
        for decade in range(first, int(max(years)) + 1, 10):
            start = decade if low is None else max(decade, low)
            end = decade + 9 if high is None else min(decade + 9, high)
            if start > end:
                continue
            count = round(books * others * stats.year.share_between(start, end))
            if count > 0:
                values.append((count, decade))
    else:
        others = stats.year.share_between(*floats(criteria.year))
        for number, edge in enumerate(PRICE_BANDS):
            top = PRICE_BANDS[number + 1] if number + 1 < len(PRICE_BANDS) else None
            share = stats.price.share_between(
                float(edge), None if top is None else float(top) - 0.005
            )
            count = round(books * others * share)
            if count > 0:
                values.append((count, number))
    return values


def sample_order(stats: CatalogStats, criteria: Criteria) -> SortOrder:
    """The order to sample a set narrowed by ranges only in: that of its narrowest range.

    Its index then bounds the read (the range is the index condition); in
    title order, a narrow range would be looked for along the whole catalog.
    """
    ranges = [
        (stats.year.share_between(*floats(criteria.year)), "published_year", criteria.year),
        (stats.price.share_between(*floats(criteria.price)), "price", criteria.price),
    ]
    given = [(share, field) for share, field, bounds in ranges if bounds != (None, None)]
    if not given:
        return TITLE
    return sort_order(min(given)[1])


async def words_share(db: DatabaseConnection, match: Match, books: float) -> float:
    """The share of books holding every term, from the vocabulary's counts, as independent."""
    words = sorted({word for term in match.terms for word in term.words})
    rows = await db.fetch("SELECT word, books FROM search_words WHERE word = ANY($1)", words)
    held = {row["word"]: row["books"] for row in rows}
    share = 1.0
    for term in match.terms:
        share *= min(1.0, sum(held.get(word, 0) for word in term.words) / max(books, 1.0))
    return share
