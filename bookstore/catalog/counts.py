"""How many books match, and how many per facet value: exact when cheap, else estimated.

No index counts: a COUNT(*) of a category holding 300,000 books reads
300,000 index entries (30-60 ms), every time. So:

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
  ``EXACT_UP_TO + 1`` books, scaled to that total. The category facet of a
  set narrowed only by ranges comes from the statistics directly. The
  response flags such numbers (``total_is_estimate``,
  ``facets_is_estimate``); docs/performance.md has the measured error.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from piccolo.querystring import QueryString

from bookstore.catalog.filters import BookFilters, Criteria, resolve
from bookstore.catalog.listing import sample_of_books
from bookstore.catalog.search.pages import Match, match_conditions
from bookstore.catalog.statements import Row, all_of, literal_limit
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.tables import Book

EXACT_UP_TO = 1000
# Price bands of the price_band facet: [min, max), the last one open.
PRICE_BANDS: tuple[Decimal, ...] = tuple(
    Decimal(edge) for edge in ("0", "5", "10", "15", "20", "30", "50", "100")
)
STATS_TTL_S = 60.0
# A set the statistics put above this many times EXACT_UP_TO is not sampled
# for the category facet alone: its counts come from the statistics anyway.
_SURELY_MORE = 10


# -- PostgreSQL's statistics -------------------------------------------------------------


@dataclass(frozen=True)
class ColumnStats:
    """A column's distribution as ANALYZE sampled it."""

    null_frac: float = 0.0
    common: dict[float, float] = field(default_factory=dict)  # value -> share of rows
    bounds: tuple[float, ...] = ()  # histogram of the other values, equal shares

    def share_between(self, low: float | None, high: float | None) -> float:
        """Share of all rows with a value in [low, high] (either end open; both: every row)."""
        if low is None and high is None:
            return 1.0
        lo = float("-inf") if low is None else low
        hi = float("inf") if high is None else high
        common = sum(share for value, share in self.common.items() if lo <= value <= hi)
        rest = max(0.0, 1.0 - self.null_frac - sum(self.common.values()))
        return common + rest * self._histogram_share(lo, hi)

    def _histogram_share(self, lo: float, hi: float) -> float:
        bounds = self.bounds
        if len(bounds) < 2:
            return 1.0 if not self.common else 0.0
        return max(0.0, self._position(hi) - self._position(lo))

    def _position(self, value: float) -> float:
        """Share of the histogram's values below ``value``, interpolated within its bucket."""
        bounds = self.bounds
        if value <= bounds[0]:
            return 0.0
        if value >= bounds[-1]:
            return 1.0
        bucket = bisect.bisect_right(bounds, value) - 1
        low, high = bounds[bucket], bounds[bucket + 1]
        within = (value - low) / (high - low) if high > low else 0.0
        return (bucket + within) / (len(bounds) - 1)


@dataclass(frozen=True)
class CatalogStats:
    """Row counts and distributions of the catalog, from pg_class and pg_stats."""

    books: float
    authors: float
    links: float
    category_share: dict[int, float]  # category id -> share of book_category's rows
    other_category_share: float  # each category missing from the list above
    year: ColumnStats
    price: ColumnStats

    @property
    def known(self) -> bool:
        return self.books > 0

    def category_books(self, category_id: int) -> float:
        return self.links * self.category_share.get(category_id, self.other_category_share)

    def estimate(self, criteria: Criteria) -> float:
        """Books matching ``criteria``, the conditions taken as independent."""
        books = max(self.books, 1.0)
        if criteria.category_sets:
            set_sizes = [
                min(books, sum(self.category_books(c) for c in ids))
                for ids in criteria.category_sets
            ]
            matching = books
            for size in set_sizes:
                matching *= size / books
        else:
            matching = books
        matching *= self.year.share_between(*_floats(criteria.year))
        matching *= self.price.share_between(*_floats(criteria.price))
        if criteria.author_ids is not None:
            matching *= min(1.0, len(criteria.author_ids) / max(self.authors, 1.0))
        return matching


def _floats(bounds: tuple[Any, Any]) -> tuple[float | None, float | None]:
    low, high = bounds
    return (None if low is None else float(low), None if high is None else float(high))


_STATS = """
SELECT (SELECT reltuples FROM pg_class WHERE oid = 'books'::regclass) AS books,
       (SELECT reltuples FROM pg_class WHERE oid = 'authors'::regclass) AS authors,
       (SELECT reltuples FROM pg_class WHERE oid = 'book_category'::regclass) AS links,
       s.tablename, s.attname, s.null_frac, s.n_distinct,
       s.most_common_vals::text AS common_values, s.most_common_freqs AS common_shares,
       s.histogram_bounds::text AS bounds
FROM (SELECT 1) AS one
LEFT JOIN pg_stats s ON s.schemaname = current_schema()
 AND ((s.tablename = 'book_category' AND s.attname = 'category_id')
      OR (s.tablename = 'books' AND s.attname IN ('published_year', 'price')))
"""


def _numbers(text: str | None) -> list[float]:
    if not text:
        return []
    return [float(item) for item in text.strip("{}").split(",") if item]


def _column(row: Row | None) -> ColumnStats:
    if row is None:
        return ColumnStats()
    values = _numbers(row["common_values"])
    return ColumnStats(
        null_frac=row["null_frac"] or 0.0,
        common=dict(zip(values, row["common_shares"] or [], strict=False)),
        bounds=tuple(_numbers(row["bounds"])),
    )


def _stats_from(rows: Sequence[Row]) -> CatalogStats:
    by_column = {(row["tablename"], row["attname"]): row for row in rows}
    first = rows[0]
    links = by_column.get(("book_category", "category_id"))
    shares: dict[int, float] = {}
    other = 0.0
    if links is not None:
        values = _numbers(links["common_values"])
        shares = {
            int(value): share
            for value, share in zip(values, links["common_shares"] or [], strict=False)
        }
        distinct = links["n_distinct"] or 0.0
        if distinct < 0:
            distinct = -distinct * max(first["links"] or 0.0, 0.0)
        rest = max(0.0, 1.0 - sum(shares.values()))
        other = rest / max(1.0, distinct - len(shares))
    return CatalogStats(
        books=max(first["books"] or 0.0, 0.0),
        authors=max(first["authors"] or 0.0, 0.0),
        links=max(first["links"] or 0.0, 0.0),
        category_share=shares,
        other_category_share=other,
        year=_column(by_column.get(("books", "published_year"))),
        price=_column(by_column.get(("books", "price"))),
    )


class StatsCache:
    """``CatalogStats`` read at most once per ``ttl_s`` per process."""

    def __init__(self, ttl_s: float = STATS_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._stats: CatalogStats | None = None
        self._read_at = 0.0

    async def get(self, db: DatabaseConnection) -> CatalogStats:
        now = time.monotonic()
        if self._stats is None or now - self._read_at > self.ttl_s:
            self._stats = _stats_from(await db.fetch(_STATS))
            self._read_at = now
        return self._stats

    def clear(self) -> None:
        self._stats = None


stats_cache = StatsCache()


# -- facets and totals ----------------------------------------------------------------------


@dataclass
class Counts:
    """What ``count_books`` found: the total and the facets asked for."""

    total: int | None = None
    total_is_estimate: bool = False
    facets: dict[str, list[Row]] | None = None
    facets_is_estimate: bool = False


def without(criteria: Criteria, facet: str) -> Criteria:
    """``criteria`` less the filter of ``facet``: a facet's counts ignore its own filter."""
    if facet == "category":
        return dataclasses.replace(criteria, category_sets=())
    if facet == "author":
        return dataclasses.replace(criteria, author_ids=None, author_pattern=None)
    if facet == "decade":
        return dataclasses.replace(criteria, year=(None, None))
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
            "SELECT 'decade', (floor(year / 10.0) * 10)::bigint, NULL, NULL, count(*)"
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
        parts.append(
            "SELECT 'category', c.id, c.name, c.slug, count(*)"
            " FROM sample JOIN book_category bc ON bc.book_id = sample.id"
            f" JOIN categories c ON c.id = bc.category_id{exact_only} GROUP BY c.id"
        )
    return parts


def _facet_statement(
    sample: QueryString, facets: Sequence[str], categories_when_exact: bool
) -> QueryString:
    parts = _facet_parts(facets, categories_when_exact)
    return QueryString("WITH sample AS MATERIALIZED ({}) " + " UNION ALL ".join(parts), sample)


def _values(facet: str, rows: Sequence[Row]) -> list[Row]:
    if facet == "decade":
        return [{"value": row["value"], "count": row["books"]} for row in rows]
    if facet == "price_band":
        values = []
        for row in rows:
            number = row["value"]
            high = PRICE_BANDS[number + 1] if number + 1 < len(PRICE_BANDS) else None
            values.append(
                {
                    "min": f"{PRICE_BANDS[number]:.2f}",
                    "max": None if high is None else f"{high:.2f}",
                    "count": row["books"],
                }
            )
        return values
    if facet == "author":
        return [{"id": row["value"], "name": row["name"], "count": row["books"]} for row in rows]
    return [
        {"id": row["value"], "name": row["name"], "slug": row["slug"], "count": row["books"]}
        for row in rows
    ]


def _largest(values: list[Row], limit: int) -> list[Row]:
    """Largest count first; ties in the facet's natural order (id, decade, band)."""

    def key(value: Row) -> tuple[Any, ...]:
        natural = value.get("id", value.get("value", value.get("min")))
        return (-value["count"], natural if not isinstance(natural, str) else Decimal(natural))

    return sorted(values, key=key)[:limit]


async def _categories_from_stats(
    db: DatabaseConnection, stats: CatalogStats, criteria: Criteria, limit: int
) -> list[Row]:
    """The category facet of a set narrowed by ranges only, from the statistics."""
    share = stats.year.share_between(*_floats(criteria.year)) * stats.price.share_between(
        *_floats(criteria.price)
    )
    rows = await db.fetch("SELECT id, name, slug FROM categories")
    values = [
        {
            "id": row["id"],
            "name": row["name"],
            "slug": row["slug"],
            "count": round(stats.category_books(row["id"]) * share),
        }
        for row in rows
    ]
    return _largest([v for v in values if v["count"] > 0], limit)


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
        criteria = await resolve(filters, db)
        return await counts_of(
            db, criteria, total=total, facets=facets, facet_limit=facet_limit, match=match
        )


def _search_sample(match: Match, criteria: Criteria, limit: int) -> QueryString:
    """(id, year, price, author_id) of ``limit`` books matching the search, in no order."""
    return QueryString(
        "SELECT s.book_id AS id, b.published_year AS year, b.price AS price,"
        " b.author_id AS author_id FROM book_search s JOIN books b ON b.id = s.book_id"
        f" WHERE {{}} {literal_limit(limit)}",
        all_of(match_conditions("s", match, criteria)),
    )


async def _words_share(db: DatabaseConnection, match: Match, books: float) -> float:
    """The share of books holding every term, from the vocabulary's counts, as independent."""
    words = sorted({word for term in match.terms for word in term.words})
    rows = await db.fetch("SELECT word, books FROM search_words WHERE word = ANY($1)", words)
    held = {row["word"]: row["books"] for row in rows}
    share = 1.0
    for term in match.terms:
        share *= min(1.0, sum(held.get(word, 0) for word in term.words) / max(books, 1.0))
    return share


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
    for narrowed, names in groups:
        by_ranges_only = narrowed.author_ids is None and narrowed.author_pattern is None
        by_ranges_only = by_ranges_only and not narrowed.category_sets and match is None
        if by_ranges_only and names == ["category"]:
            # Plainly more than a sample's worth (the whole catalog, a wide
            # range): the statistics answer, no sample is read.
            stats = stats or await stats_cache.get(db)
            if stats.known and stats.estimate(narrowed) > _SURELY_MORE * EXACT_UP_TO:
                facet_values["category"] = await _categories_from_stats(
                    db, stats, narrowed, facet_limit
                )
                counts.facets_is_estimate = True
                continue
        if narrowed.matches_nothing():
            rows: list[Row] = [{"facet": "books", "books": 0}]
        else:
            sample = (
                sample_of_books(narrowed, EXACT_UP_TO + 1)
                if match is None
                else _search_sample(match, narrowed, EXACT_UP_TO + 1)
            )
            statement = _facet_statement(
                sample,
                [n for n in names if n != "total"],
                categories_when_exact=by_ranges_only,
            )
            rows = await fetch(db, statement)
        sampled = next(row["books"] for row in rows if row["facet"] == "books")
        exact = sampled <= EXACT_UP_TO
        scale = 1.0
        estimated_total = sampled
        if not exact:
            stats = stats or await stats_cache.get(db)
            estimated_total = (
                max(sampled, round(stats.estimate(narrowed))) if stats.known else sampled
            )
            scale = estimated_total / sampled
        if "total" in names:
            counts.total = estimated_total
            counts.total_is_estimate = not exact
        for name in names:
            if name == "total":
                continue
            if name == "category" and by_ranges_only and not exact:
                assert stats is not None
                facet_values[name] = await _categories_from_stats(db, stats, narrowed, facet_limit)
            else:
                values = _values(name, [row for row in rows if row["facet"] == name])
                if not exact:
                    for value in values:
                        value["count"] = round(value["count"] * scale)
                facet_values[name] = _largest(values, facet_limit)
            counts.facets_is_estimate = counts.facets_is_estimate or not exact
    if facets:
        counts.facets = {name: facet_values[name] for name in facets}
    return counts
