"""Totals and decade and price-band counts of categories, summed from ``category_counts``.

``category_counts`` (migration 2026-11-29T05:30) holds each category's
books per (decade, price band), kept by statement-level triggers on
book_category. A set of categories narrowed by year and price ranges at
most is answered from its rows, about 170 a category, instead of a sample
of its books scaled to an estimated total, which was off by more than 20%
for 29 of 240 counts at 1M books (docs/performance.md):

- exact for one category and ranges that cover whole decades and price
  bands (or none);
- a decade or band the ranges cover in part counts for the share of the
  catalog's years or prices (``CatalogStats``) in the covered part;
- several categories (``category_mode=any``) add their rows: a book in two
  of them counts twice, as in the statistics' estimate.

Usage::

    cells, _ = await kept_cells_and_names(db, [fantasy_id], names=False)
    counted = cells.counted(criteria, stats, categories=1)
    counted.total, counted.decades, counted.bands, counted.exact
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from bookstore.catalog.category_names import ORDER, CategoryNames, keep_names, kept_names
from bookstore.catalog.filters import Criteria
from bookstore.catalog.kept import KeptAtVersion
from bookstore.catalog.statistics import CatalogStats, ColumnStats
from bookstore.database import DatabaseConnection

# Price bands of the price_band facet: [min, max), the last one open. The
# migration's price_band_of() numbers them the same (tests/test_browsing.py).
PRICE_BANDS: tuple[Decimal, ...] = tuple(
    Decimal(edge) for edge in ("0", "5", "10", "15", "20", "30", "50", "100")
)
_CENT = Decimal("0.01")


class Cell(NamedTuple):
    """Books of the categories asked for in one decade and price band (None: without).

    A named tuple, not a frozen dataclass: about 170 are made per request
    of a category's facets, and a frozen dataclass's ``__init__`` costs
    several times a tuple's.
    """

    decade: int | None
    band: int | None
    books: int


@dataclass
class CountedCells:
    """What the cells say of a set: its total and counts per decade and band."""

    total: float = 0.0
    decades: dict[int, float] = field(default_factory=dict)
    bands: dict[int, float] = field(default_factory=dict)
    # Exact: one category, and every cell counted whole or not at all.
    exact: bool = True
    # The books of every cell the ranges touch: at least as many as match.
    at_most: int = 0


class CategoryCells:
    """The cells of a set of categories at one catalog version, and their sum without ranges.

    The sum (``counted``) is what a category's page without ranges shows;
    it is summed once per catalog version, not per request.
    """

    __slots__ = ("_whole", "cells")

    def __init__(self, cells: list[Cell]) -> None:
        self.cells = cells
        self._whole: CountedCells | None = None

    def counted(self, criteria: Criteria, stats: CatalogStats, *, categories: int) -> CountedCells:
        """``counted_from_cells`` of these cells; without ranges, the one kept (read only)."""
        if criteria.year != (None, None) or criteria.price != (None, None):
            return counted_from_cells(self.cells, criteria, stats, categories=categories)
        if self._whole is None:  # ``categories`` is the set's size, the same every call
            self._whole = counted_from_cells(self.cells, criteria, stats, categories=categories)
        return self._whole


# Sets of categories whose cells are kept per catalog version: beyond, the
# first kept is dropped (a set's cells are at most 19 x 9, about 20 KB).
KEPT_CELL_SETS = 512


_kept_cells = KeptAtVersion[tuple[int, ...], CategoryCells](KEPT_CELL_SETS)

_VERSION_ROW = (
    "SELECT version, NULL::integer AS decade, NULL::integer AS price_band,"
    " NULL::bigint AS books, NULL::integer AS id, NULL::text AS name, NULL::text AS slug"
    " FROM catalog_version"
)


def _statement(cells: bool, names: bool) -> str:
    """The version, and the cells and names unless the version is the one held for them.

    ``IS DISTINCT FROM`` a held version of NULL (nothing held) reads them. The
    version and the rows come from the statement's one snapshot.
    """
    parts = [_VERSION_ROW]
    if cells:
        parts.append(
            "SELECT NULL, decade, price_band, sum(books)::bigint, NULL, NULL, NULL"
            " FROM category_counts WHERE category_id = ANY($1::integer[])"
            " AND (SELECT version FROM catalog_version) IS DISTINCT FROM $2::bigint"
            " GROUP BY decade, price_band"
        )
    if names:
        # ``books`` carries each name's place in the order a book shows them.
        held = "$3" if cells else "$1"
        parts.append(
            f"SELECT NULL, NULL, NULL, row_number() OVER (ORDER BY {ORDER}), id, name, slug"
            " FROM categories"
            f" WHERE (SELECT version FROM catalog_version) IS DISTINCT FROM {held}::bigint"
        )
    return " UNION ALL ".join(parts)


_STATEMENTS = {
    (cells, names): _statement(cells, names) for cells in (False, True) for names in (False, True)
}


async def kept_cells_and_names(
    db: DatabaseConnection,
    category_ids: Sequence[int] | None,
    *,
    names: bool,
    seen_version: int | None = None,
) -> tuple[CategoryCells | None, CategoryNames | None]:
    """The cells of ``category_ids`` (summed over them) and every category's name, if asked.

    Read once per catalog version: every write to categories, book_category
    (whose triggers keep category_counts) or books moves ``catalog_version``
    (migration 2026-11-29T02:30), so what was read at a version is what a
    read at that version returns. Each call still asks the database for the
    version, in the same statement, and gets the rows only when it differs
    from the one kept: a category's page with facets read about 170 cells
    and 300 names per request, one row now. The cells of one set are a
    range of category_counts_key per category, summed.

    ``seen_version``: the version a statement of this request already read
    (the terms' lookup, ``Criteria.catalog_version``); when what is asked is
    kept for it, no statement is sent at all.
    """
    ids = None if category_ids is None else tuple(category_ids)
    held_cells = None if ids is None else _kept_cells.latest(ids)
    held_names, names_version = kept_names() if names else (None, None)
    cells_version = None if held_cells is None else _kept_cells.version
    if (
        seen_version is not None
        and (ids is None or cells_version == seen_version)
        and (not names or names_version == seen_version)
    ):
        return held_cells, held_names
    args: list[Any] = []
    if ids is not None:
        args += [list(ids), cells_version]
    if names:
        args.append(names_version)
    rows = await db.fetch(_STATEMENTS[ids is not None, names], *args)
    version: int | None = None
    read_cells: list[Cell] = []
    read_names: list[Any] = []
    for row in rows:
        if row["version"] is not None:
            version = row["version"]
        elif row["id"] is None:
            read_cells.append(Cell(row["decade"], row["price_band"], row["books"]))
        else:
            read_names.append(row)
    # Another request may have moved what is kept while this one waited for
    # its rows; ``keep`` keeps only going forward (``KeptAtVersion``).
    cells = None
    if ids is not None:
        held = held_cells is not None and version == cells_version
        cells = held_cells if held else CategoryCells(read_cells)
        _kept_cells.keep(version, ids, cells)
    category_names = None
    if names:
        held = held_names is not None and version == names_version
        if held:
            category_names = held_names
        else:
            category_names = CategoryNames(sorted(read_names, key=lambda row: row["books"]))
        keep_names(db, version, category_names)
    return cells, category_names


def _covered(
    first: float,
    last: float | None,
    low: float | None,
    high: float | None,
    column: ColumnStats,
    unit: float,
) -> tuple[float, bool]:
    """Share of the values in [first, last] (a decade, a band) in [low, high], and if exact.


    ``last`` None: the cell is open at the top (the last price band). 1 or 0
    when the range covers the cell whole or not at all; in between, the
    catalog's own distribution of the column (its histogram) in the covered
    part. ``unit``: the step of the values (a year, a cent), half of it added
    on each side, so that [1995, 1999] is five of the ten years of [1990, 1999].
    """
    start = first if low is None else max(first, low)
    end = last if high is None else (high if last is None else min(last, high))
    if end is not None and start > end:
        return 0.0, True
    if start == first and end == last:
        return 1.0, True
    half = unit / 2
    whole = column.share_between(first - half, None if last is None else last + half)
    part = column.share_between(start - half, None if end is None else end + half)
    if whole > 0:
        return min(1.0, part / whole), False
    if last is None or end is None:
        return 0.5, False  # no statistics (never analyzed): a guess
    return (end - start + unit) / (last - first + unit), False


def _bounds(bounds: tuple[object, object]) -> tuple[float | None, float | None]:
    low, high = bounds
    return (
        None if low is None else float(low),  # type: ignore[arg-type]
        None if high is None else float(high),  # type: ignore[arg-type]
    )


def _year_share(cell: Cell, criteria: Criteria, stats: CatalogStats) -> tuple[float, bool]:
    if criteria.year == (None, None):
        return 1.0, True
    if cell.decade is None:
        return 0.0, True  # a book without a year is outside any range on it
    return _covered(cell.decade, cell.decade + 9, *_bounds(criteria.year), stats.year, 1.0)


def _price_share(cell: Cell, criteria: Criteria, stats: CatalogStats) -> tuple[float, bool]:
    if criteria.price == (None, None):
        return 1.0, True
    if cell.band is None:
        return 0.0, True
    first = float(PRICE_BANDS[cell.band])
    last = None
    if cell.band + 1 < len(PRICE_BANDS):
        last = float(PRICE_BANDS[cell.band + 1] - _CENT)
    return _covered(first, last, *_bounds(criteria.price), stats.price, float(_CENT))


def counted_from_cells(
    cells: Sequence[Cell], criteria: Criteria, stats: CatalogStats, *, categories: int
) -> CountedCells:
    """The total and the decade and band counts of ``criteria``'s ranges over ``cells``.

    ``categories``: how many categories the cells add up; more than one is
    an estimate (a book in two counts twice).
    """
    counted = CountedCells(exact=categories == 1)
    if criteria.year == (None, None) and criteria.price == (None, None):
        # No ranges (a category's page): every cell counts whole. Summed
        # without the two share calls per cell, about 170 cells a request.
        decades, bands = counted.decades, counted.bands
        for cell in cells:
            books = cell.books * 1.0
            counted.at_most += cell.books
            counted.total += books
            if cell.decade is not None:
                decades[cell.decade] = decades.get(cell.decade, 0.0) + books
            if cell.band is not None:
                bands[cell.band] = bands.get(cell.band, 0.0) + books
        return counted
    for cell in cells:
        year_share, whole_decades = _year_share(cell, criteria, stats)
        price_share, whole_bands = _price_share(cell, criteria, stats)
        share = year_share * price_share
        if share <= 0.0 and whole_decades and whole_bands:
            continue
        counted.exact = counted.exact and whole_decades and whole_bands
        counted.at_most += cell.books
        books = cell.books * share
        counted.total += books
        if cell.decade is not None:
            counted.decades[cell.decade] = counted.decades.get(cell.decade, 0.0) + books
        if cell.band is not None:
            counted.bands[cell.band] = counted.bands.get(cell.band, 0.0) + books
    return counted
