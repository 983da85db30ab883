"""How many books match, and how many per facet value: exact when cheap, else estimated.

No index counts: a COUNT(*) of a category holding 300,000 books reads
300,000 index entries (30-60 ms), every time. So:

- **Counted ahead for categories.** ``category_counts`` (kept by triggers on
  book_category) holds each category's books per (decade, price band). A set
  of categories narrowed by ranges at most has its total and its decade and
  price-band counts summed from those rows (about 170 a category): exact for
  one category and ranges on whole decades and bands; otherwise estimated,
  a partly covered decade or band by the share of the catalog's years or
  prices in the covered part, several categories by adding theirs (a book
  in two counted twice).
- **Exact up to ``EXACT_UP_TO`` books.** The first ``EXACT_UP_TO + 1``
  matching books are read in title order, by the same index ranges as a
  page (index only: the indexes INCLUDE the year, price and author); when
  that is all of them, the total and the facet counts are exact.
- **Estimated beyond.** The total comes from PostgreSQL's own statistics
  (``CatalogStats``, read once a minute): the category's share of the links
  (``pg_stats.most_common_vals`` of ``book_category.category_id``, whose
  statistics target the migration raises so that every category is in it),
  times the share of books in the year and price ranges (their histograms),
  as independent conditions; a facet's counts are those of the sample of
  ``EXACT_UP_TO + 1`` books, scaled to that total. The facets of a set
  narrowed only by ranges come from the statistics directly
  (``bookstore.catalog.estimates``). The response flags such numbers (``total_is_estimate``,
  ``facets_is_estimate``); docs/performance.md has the measured error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from piccolo.querystring import QueryString

from bookstore.catalog.category_counts import (
    PRICE_BANDS,
    CategoryCells,
    CountedCells,
    kept_cells_and_names,
)
from bookstore.catalog.category_names import CategoryNames
from bookstore.catalog.estimates import (
    categories_from_stats,
    histogram_counts,
    sample_order,
    words_share,
)
from bookstore.catalog.filters import BookFilters, Criteria, resolve
from bookstore.catalog.listing import smallest_first
from bookstore.catalog.pages import in_categories, sample_of_books
from bookstore.catalog.search.pages import Match, match_conditions
from bookstore.catalog.statements import Row, all_of, literal_limit
from bookstore.catalog.statistics import CatalogStats, stats_cache
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.query_text import Sql
from bookstore.tables import Book

EXACT_UP_TO = 1000
# A set the statistics put above this many times EXACT_UP_TO is not sampled
# for the category facet alone: its counts come from the statistics anyway.
_SURELY_MORE = 10


# -- facets and totals ----------------------------------------------------------------------


@dataclass
class Counts:
    """What ``count_books`` found: the total and the facets asked for."""

    total: int | None = None
    total_is_estimate: bool = False
    facets: dict[str, list[Row]] | None = None
    facets_is_estimate: bool = False


def without(criteria: Criteria, facet: str) -> Criteria:
    """``criteria`` less the filter of ``facet``: a facet's counts ignore its own filter.

    ``criteria`` itself when it has no such filter (``dataclasses.replace``
    walks every field: three times per request of a category's facets).
    """
    if facet == "category":
        if not criteria.category_sets:
            return criteria
        return dataclasses.replace(criteria, category_sets=())
    if facet == "author":
        if criteria.author_ids is None and criteria.author_pattern is None:
            return criteria
        return dataclasses.replace(criteria, author_ids=None, author_pattern=None)
    if facet == "decade":
        if criteria.year == (None, None):
            return criteria
        return dataclasses.replace(criteria, year=(None, None))
    if criteria.price == (None, None):
        return criteria
    return dataclasses.replace(criteria, price=(None, None))


def _band_of() -> str:
    cases = " ".join(
        f"WHEN price < {edge} THEN {number - 1}"
        for number, edge in enumerate(PRICE_BANDS[1:], start=1)
    )
    return f"CASE {cases} ELSE {len(PRICE_BANDS) - 1} END"


def _facet_parts(facets: Sequence[str], categories_when_exact: bool) -> list[str]:
    parts = [
        "SELECT 'books' AS facet, NULL::bigint AS value, NULL::text AS name,"
        " NULL::text AS slug, count(*) AS books FROM sample"
    ]
    if "decade" in facets:
        parts.append(
            # The decade's first year, in integers (numeric floor() was a
            # third of the statement's time); negative years round down too.
            "SELECT 'decade', year - (year % 10 + 10) % 10, NULL, NULL, count(*)"
            " FROM sample WHERE year IS NOT NULL GROUP BY 2"
        )
    if "price_band" in facets:
        parts.append(
            f"SELECT 'price_band', {_band_of()}, NULL, NULL, count(*)"
            " FROM sample WHERE price IS NOT NULL GROUP BY 2"
        )
    if "author" in facets:
        parts.append(
            "SELECT 'author', a.id, a.name, NULL, count(*)"
            " FROM sample JOIN authors a ON a.id = sample.author_id GROUP BY a.id"
        )
    if "category" in facets:
        # Skipped (a one-time filter) when the sample is not the whole set
        # and the statistics answer instead: a probe of book_category per book.
        exact_only = (
            f" WHERE (SELECT count(*) FROM sample) <= {EXACT_UP_TO}"
            if categories_when_exact
            else ""
        )
        # One probe of book_category_unique per sampled book (LATERAL ...
        # OFFSET 0): joined plainly, a generic plan read all of book_category.
        parts.append(
            "SELECT 'category', c.id, c.name, c.slug, linked.books FROM (SELECT bc.category_id,"
            " count(*) AS books FROM sample CROSS JOIN LATERAL (SELECT x.category_id"
            " FROM book_category x WHERE x.book_id = sample.id OFFSET 0) AS bc"
            f"{exact_only} GROUP BY bc.category_id) AS linked"
            " JOIN categories c ON c.id = linked.category_id"
        )
    return parts


def _facet_statement(
    sample: QueryString,
    facets: Sequence[str],
    categories_when_exact: bool,
    *,
    kept_if: QueryString | None = None,
) -> QueryString:
    """The counts of ``facets`` over ``sample``, and its size (facet ``books``).

    ``kept_if``: ``sample`` is a bounded read, of which only the rows
    meeting this condition count; how many were read is facet ``read``.
    """
    parts = _facet_parts(facets, categories_when_exact)
    if kept_if is None:
        return Sql("WITH sample AS MATERIALIZED ({}) " + " UNION ALL ".join(parts), sample)
    parts.append("SELECT 'read', NULL::bigint, NULL::text, NULL::text, count(*) FROM read_sample")
    return Sql(
        "WITH read_sample AS MATERIALIZED ({}),"
        " sample AS MATERIALIZED (SELECT * FROM read_sample AS s WHERE {}) "
        + " UNION ALL ".join(parts),
        sample,
        kept_if,
    )


# The price bands as the facet shows them: (min, max), the last one open.
_BAND_TEXTS: tuple[tuple[str, str | None], ...] = tuple(
    (f"{edge:.2f}", f"{PRICE_BANDS[number + 1]:.2f}" if number + 1 < len(PRICE_BANDS) else None)
    for number, edge in enumerate(PRICE_BANDS)
)


def _value(facet: str, value: int, count: int, row: Any) -> Row:
    """One value of ``facet`` as the response shows it; ``row`` holds an author's or a
    category's name (and slug)."""
    if facet == "decade":
        return {"value": value, "count": count}
    if facet == "price_band":
        low, high = _BAND_TEXTS[value]
        return {"min": low, "max": high, "count": count}
    if facet == "author":
        return {"id": value, "name": row["name"], "count": count}
    return {"id": value, "name": row["name"], "slug": row["slug"], "count": count}


_COUNT_THEN_VALUE = itemgetter(0, 1)


def _largest(facet: str, counted: list[tuple[int, int, Any]], limit: int) -> list[Row]:
    """``counted`` as (-count, value, row): the ``limit`` largest counts, shaped.

    Ties in the facet's natural order: id, decade, band (whose number orders
    them as their prices do). Only the values kept are shaped.
    """
    counted.sort(key=_COUNT_THEN_VALUE)
    return [_value(facet, value, -negative, row) for negative, value, row in counted[:limit]]


async def _whole_from_stats(
    db: DatabaseConnection,
    stats: CatalogStats,
    criteria: Criteria,
    names: Sequence[str],
    limit: int,
    counts: Counts,
    facet_values: dict[str, list[Row]],
    estimate: int,
    category_names: CategoryNames | None = None,
) -> None:
    """Total and facets of a large set narrowed by ranges only, from the statistics.

    The author facet has no statistics: it is counted on the first 1,001
    books in the order of a range's own index (its condition bounds the
    read), scaled to the estimate; a sample skewed to the range's low end.
    """
    if "total" in names:
        counts.total = estimate
        counts.total_is_estimate = True
    for name in names:
        if name == "category":
            facet_values[name] = await categories_from_stats(
                db, stats, criteria, limit, category_names
            )
        elif name in ("decade", "price_band"):
            histogram = histogram_counts(stats, criteria, name)
            values = [(-count, value, None) for count, value in histogram]
            facet_values[name] = _largest(name, values, limit)
        elif name == "author":
            statement = _facet_statement(
                sample_of_books(criteria, EXACT_UP_TO + 1, sample_order(stats, criteria)),
                ["author"],
                False,
            )
            rows = await fetch(db, statement)
            sampled = next(row["books"] for row in rows if row["facet"] == "books") or 1
            values = [
                (-round(row["books"] * estimate / sampled), row["value"], row)
                for row in rows
                if row["facet"] == "author"
            ]
            facet_values[name] = _largest("author", values, limit)
        if name != "total":
            counts.facets_is_estimate = True


def counting(
    *, total: bool, facets: Sequence[str], facet_limit: int
) -> Callable[[DatabaseConnection, Criteria], Awaitable[Counts]]:
    """``counts_of`` for ``listing.list_books_then``: counted on the page's own connection."""

    async def count(db: DatabaseConnection, criteria: Criteria) -> Counts:
        return await counts_of(db, criteria, total=total, facets=facets, facet_limit=facet_limit)

    return count


async def count_matching(
    filters: BookFilters,
    *,
    total: bool,
    facets: Sequence[str],
    facet_limit: int,
    match: Match | None = None,
) -> Counts:
    """The total and facets of the books matching ``filters`` (and ``match``, the words of
    ``q=``): see ``counts_of``."""
    async with connection(Book._meta.db) as db:
        criteria = await resolve(filters, db, catalog_version=True)
        if len(criteria.category_sets) > 1:
            criteria = await smallest_first(db, criteria)
        return await counts_of(
            db, criteria, total=total, facets=facets, facet_limit=facet_limit, match=match
        )


def _search_sample(match: Match, criteria: Criteria, limit: int) -> QueryString:
    """(id, year, price, author_id) of ``limit`` books matching the search, in no order."""
    return Sql(
        "SELECT s.book_id AS id, b.published_year AS year, b.price AS price,"
        " b.author_id AS author_id FROM book_search s JOIN books b ON b.id = s.book_id"
        f" WHERE {{}} {literal_limit(limit)}",
        all_of(match_conditions("s", match, criteria)),
    )


# Books of the smallest category read for ``category_mode=all``: the sample
# is those of them that are in the other categories too (see ``counts_of``).
INTERSECTION_SAMPLE = 2000


async def counts_of(
    db: DatabaseConnection,
    criteria: Criteria,
    *,
    total: bool,
    facets: Sequence[str],
    facet_limit: int,
    match: Match | None = None,
) -> Counts:
    """The total of ``criteria`` (when ``total``) and its ``facets``, each exact when cheap.

    With ``match`` (a text search), the sets are its matches; an estimate
    then also takes the share of books holding its words from the
    vocabulary.
    """
    counts = Counts()
    # Facets whose sets are the same are counted from one sample.
    groups: list[tuple[Criteria, list[str]]] = []
    wanted = [("total", criteria)] if total else []
    wanted += [(facet, without(criteria, facet)) for facet in facets]
    for name, narrowed in wanted:
        for group_criteria, names in groups:
            if group_criteria == narrowed:
                names.append(name)
                break
        else:
            groups.append((narrowed, [name]))
    stats: CatalogStats | None = None
    facet_values: dict[str, list[Row]] = {}
    cells_of: dict[tuple[int, ...], CategoryCells] = {}  # read once for every group
    category_names: CategoryNames | None = None
    of_cells = [narrowed for narrowed, _ in groups if _counted_ahead(narrowed, match)]
    if of_cells and any(
        "category" in names and _by_ranges_only(narrowed, match) for narrowed, names in groups
    ):
        # A category's facets: its cells and the names for the category facet
        # (from the statistics, below) in one round trip instead of two.
        ids = tuple(of_cells[0].category_sets[0])
        cells, category_names = await kept_cells_and_names(
            db, ids, names=True, seen_version=criteria.catalog_version
        )
        assert cells is not None
        cells_of[ids] = cells
    for narrowed, names in groups:
        if _counted_ahead(narrowed, match):
            stats = stats or await stats_cache.get(db)
            ids = tuple(narrowed.category_sets[0])
            if ids not in cells_of:
                cells, _ = await kept_cells_and_names(
                    db, ids, names=False, seen_version=criteria.catalog_version
                )
                assert cells is not None
                cells_of[ids] = cells
            counted = cells_of[ids].counted(narrowed, stats, categories=len(ids))
            # Not exact but few: the sample below is the whole set, exact.
            if counted.exact or counted.at_most > EXACT_UP_TO:
                await _from_cells(db, counted, narrowed, names, facet_limit, counts, facet_values)
                continue
        by_ranges_only = _by_ranges_only(narrowed, match)
        if by_ranges_only:
            # Plainly more than a sample's worth (the whole catalog, a wide
            # range): the statistics answer. A sample would walk titles
            # testing the ranges, 1,001 / share of the catalog in them (or
            # the generic plan scans and sorts books instead).
            stats = stats or await stats_cache.get(db)
            estimate = stats.estimate(narrowed)
            if stats.known and estimate > _SURELY_MORE * EXACT_UP_TO:
                await _whole_from_stats(
                    db,
                    stats,
                    narrowed,
                    names,
                    facet_limit,
                    counts,
                    facet_values,
                    round(estimate),
                    category_names,
                )
                continue
        # category_mode=all: genres correlate, so the statistics cannot say how
        # often they meet. The smallest category's first INTERSECTION_SAMPLE
        # books (in the ranges) are read, and those in the others too are
        # the sample: a bounded read, whatever the intersection.
        intersected = (
            len(narrowed.category_sets) > 1 and narrowed.author_ids is None and match is None
        )
        facet_names = [n for n in names if n != "total"]
        read = 0
        if narrowed.matches_nothing():
            rows: list[Row] = [{"facet": "books", "books": 0}]
        elif intersected:
            first, *others = narrowed.category_sets
            alone = dataclasses.replace(narrowed, category_sets=(first,))
            statement = _facet_statement(
                sample_of_books(alone, INTERSECTION_SAMPLE),
                facet_names,
                categories_when_exact=False,
                kept_if=all_of([in_categories("s.id", ids) for ids in others]),
            )
            rows = await fetch(db, statement)
            read = next(row["books"] for row in rows if row["facet"] == "read")
        else:
            if match is not None:
                sample = _search_sample(match, narrowed, EXACT_UP_TO + 1)
            elif by_ranges_only:
                stats = stats or await stats_cache.get(db)
                order = sample_order(stats, narrowed)
                sample = sample_of_books(narrowed, EXACT_UP_TO + 1, order)
            else:
                sample = sample_of_books(narrowed, EXACT_UP_TO + 1)
            statement = _facet_statement(sample, facet_names, categories_when_exact=by_ranges_only)
            rows = await fetch(db, statement)
        sampled = next(row["books"] for row in rows if row["facet"] == "books")
        exact = read < INTERSECTION_SAMPLE if intersected else sampled <= EXACT_UP_TO
        scale = 1.0
        estimated_total = sampled
        if not exact:
            stats = stats or await stats_cache.get(db)
            if intersected:
                alone = dataclasses.replace(narrowed, category_sets=narrowed.category_sets[:1])
                estimate = stats.estimate(alone) * sampled / read
            else:
                estimate = stats.estimate(narrowed)
            if match is not None:
                estimate *= await words_share(db, match, stats.books)
            estimated_total = max(sampled, round(estimate)) if stats.known else sampled
            scale = estimated_total / sampled if sampled else 1.0
        if "total" in names:
            counts.total = estimated_total
            counts.total_is_estimate = not exact
        for name in names:
            if name == "total":
                continue
            if name == "category" and by_ranges_only and not exact:
                assert stats is not None
                facet_values[name] = await categories_from_stats(
                    db, stats, narrowed, facet_limit, category_names
                )
            else:
                values = [
                    (-(row["books"] if exact else round(row["books"] * scale)), row["value"], row)
                    for row in rows
                    if row["facet"] == name
                ]
                facet_values[name] = _largest(name, values, facet_limit)
            counts.facets_is_estimate = counts.facets_is_estimate or not exact
    if facets:
        counts.facets = {name: facet_values[name] for name in facets}
    return counts


def _by_ranges_only(criteria: Criteria, match: Match | None) -> bool:
    """Whether ``criteria`` narrows the whole catalog by year and price ranges at most."""
    return (
        criteria.author_ids is None
        and criteria.author_pattern is None
        and not criteria.category_sets
        and match is None
    )


def _counted_ahead(criteria: Criteria, match: Match | None) -> bool:
    """Whether ``category_counts`` answers ``criteria``: categories (any of) and ranges only."""
    return (
        len(criteria.category_sets) == 1
        and criteria.author_ids is None
        and criteria.author_pattern is None
        and match is None
        and not criteria.matches_nothing()
    )


async def _from_cells(
    db: DatabaseConnection,
    counted: CountedCells,
    criteria: Criteria,
    names: Sequence[str],
    limit: int,
    counts: Counts,
    facet_values: dict[str, list[Row]],
) -> None:
    """Total, decades and bands of ``criteria`` from the cells; authors from a sample.

    The author facet has no counts kept: the first 1,001 books, exact when
    they are all, else scaled to the cells' total.
    """
    total = round(counted.total)
    if "total" in names:
        counts.total = total
        counts.total_is_estimate = not counted.exact
    for name, books_of in (("decade", counted.decades), ("price_band", counted.bands)):
        if name in names:
            rounded = [(-round(books), value, None) for value, books in books_of.items()]
            values = [counted_value for counted_value in rounded if counted_value[0] < 0]
            facet_values[name] = _largest(name, values, limit)
            counts.facets_is_estimate = counts.facets_is_estimate or not counted.exact
    if "author" in names:
        statement = _facet_statement(
            sample_of_books(criteria, EXACT_UP_TO + 1), ["author"], categories_when_exact=False
        )
        sampled_rows = await fetch(db, statement)
        sampled = next(row["books"] for row in sampled_rows if row["facet"] == "books")
        estimated = sampled > EXACT_UP_TO
        authors = [
            (
                -(round(row["books"] * total / sampled) if estimated else row["books"]),
                row["value"],
                row,
            )
            for row in sampled_rows
            if row["facet"] == "author"
        ]
        if estimated:
            counts.facets_is_estimate = True
        facet_values["author"] = _largest("author", authors, limit)
