"""What PostgreSQL's statistics say of the catalog: category sizes, years and prices.

Read from ``pg_class`` and ``pg_stats`` at most once a minute per process,
never by counting rows. ``bookstore.catalog.counts`` estimates totals with
them; ``bookstore.catalog.listing`` picks the smallest category to walk for
``category_mode=all``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bookstore.catalog.filters import Criteria
from bookstore.catalog.statements import Row
from bookstore.database import DatabaseConnection

STATS_TTL_S = 60.0


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
        matching *= self.year.share_between(*floats(criteria.year))
        matching *= self.price.share_between(*floats(criteria.price))
        if criteria.author_ids is not None:
            matching *= min(1.0, len(criteria.author_ids) / max(self.authors, 1.0))
        return matching


def floats(bounds: tuple[Any, Any]) -> tuple[float | None, float | None]:
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
