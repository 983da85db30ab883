"""``python -m benchmarks.estimates``: how far estimated totals and facet counts are from truth.

The storefront's ``with_total`` and ``facets`` are exact up to 1,000 books and
estimated beyond (``bookstore.catalog.counts``). This measures the estimates
of the benchmark's own requests (``total``, ``facets``, ``categories_any``,
``categories_all``, ``price_range``), and the decade and price-band counts of
a category, of a category and a price range, and of several categories,
against exact ``COUNT(*)`` queries run alongside, and prints the relative
error of each::

    DATABASE_URL=postgresql://.../bookstore_bench python -m benchmarks.estimates

``DATABASE_URL`` must name a seeded, analyzed catalog. The exact counts read
whole categories: a few minutes at a million books.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from benchmarks.scenarios import PRICE_RANGES, _category_groups
from benchmarks.terms import sample_terms
from bookstore.app import create_app
from bookstore.catalog import BookFilters
from bookstore.catalog.counts import PRICE_BANDS, count_matching
from bookstore.settings import Settings

# Facet values holding less than this share of their set are listed apart:
# a long tail is estimated roughly by design (docs/browsing.md).
SMALL_VALUE = 0.01


def _conditions(filters: BookFilters, ids_by_slug: dict[str, int]) -> str:
    """``filters`` as plain SQL (values are slugs of the catalog, ints and decimals)."""
    ids = [ids_by_slug[slug] for slug in filters.categories]
    sets = [ids] if filters.category_mode == "any" else [[i] for i in ids]
    conditions = ["TRUE"]
    for members in sets:
        conditions.append(
            "EXISTS (SELECT 1 FROM book_category bc WHERE bc.book_id = b.id"
            f" AND bc.category_id IN ({', '.join(str(int(i)) for i in members)}))"
        )
    if filters.price_min is not None:
        conditions.append(f"b.price >= {Decimal(filters.price_min)}")
    if filters.price_max is not None:
        conditions.append(f"b.price <= {Decimal(filters.price_max)}")
    return " AND ".join(conditions)


def _error(estimate: float, truth: float) -> float:
    return abs(estimate - truth) / truth if truth else float(estimate != truth)


def _band(price: Decimal) -> str:
    low = max(edge for edge in PRICE_BANDS if edge <= price)
    return f"{low:.2f}"


async def _totals(
    db: asyncpg.Connection, label: str, cases: Sequence[BookFilters], ids: dict[str, int]
) -> None:
    errors = []
    for filters in cases:
        counts = await count_matching(filters, total=True, facets=[], facet_limit=20)
        truth = await db.fetchval(
            f"SELECT count(*) FROM books b WHERE {_conditions(filters, ids)}"
        )
        errors.append(_error(counts.total or 0, truth))
        flag = "estimate" if counts.total_is_estimate else "exact"
        print(f"  {label:16} {counts.total:>9,} ({flag:8}) truth {truth:>9,}  {errors[-1]:6.1%}")
    print(
        f"{label}: {len(errors)} totals, error median {statistics.median(errors):.1%},"
        f" max {max(errors):.1%}, within 20%: {sum(e <= 0.2 for e in errors)}/{len(errors)}"
    )


def _truth_by_value(rows: Sequence[Any]) -> tuple[dict[Any, int], dict[Any, int]]:
    decades: dict[Any, int] = {}
    bands: dict[Any, int] = {}
    for row in rows:
        if row["published_year"] is not None:
            key = row["published_year"] // 10 * 10
            decades[key] = decades.get(key, 0) + 1
        if row["price"] is not None:
            bands[_band(row["price"])] = bands.get(_band(row["price"]), 0) + 1
    return decades, bands


async def _decades_and_bands(
    db: asyncpg.Connection, label: str, cases: Sequence[BookFilters], ids: dict[str, int]
) -> None:
    """Decade and price-band counts of ``cases`` against COUNT(*), each ignoring its own filter."""
    big: list[float] = []
    small: list[float] = []
    flagged = 0
    for filters in cases:
        counts = await count_matching(
            filters, total=False, facets=["decade", "price_band"], facet_limit=100
        )
        assert counts.facets is not None
        flagged += counts.facets_is_estimate
        select = "SELECT b.published_year, b.price FROM books b WHERE "
        decades, _ = _truth_by_value(await db.fetch(select + _conditions(filters, ids)))
        any_price = dataclasses.replace(filters, price_min=None, price_max=None)
        _, bands = _truth_by_value(await db.fetch(select + _conditions(any_price, ids)))
        for truth, values, key in (
            (decades, counts.facets["decade"], "value"),
            (bands, counts.facets["price_band"], "min"),
        ):
            shown = {value[key]: value["count"] for value in values}
            whole = sum(truth.values())
            for value, true_count in truth.items():
                error = _error(shown.get(value, 0), true_count)
                (big if true_count >= SMALL_VALUE * whole else small).append(error)
    print(f"{label}: {len(cases)} requests, {flagged} flagged as estimates")
    for part, errors in (("facet values >= 1% of their set", big), ("smaller values", small)):
        if errors:
            print(
                f"  decade/price_band, {part}: {len(errors)} counts, error median"
                f" {statistics.median(errors):.1%}, max {max(errors):.1%},"
                f" within 20%: {sum(e <= 0.2 for e in errors)}/{len(errors)}"
            )


async def _category_facet(db: asyncpg.Connection, slug: str) -> None:
    counts = await count_matching(
        BookFilters(category=slug), total=False, facets=["category"], facet_limit=20
    )
    assert counts.facets is not None
    truth = {
        row["category_id"]: row["books"]
        for row in await db.fetch(
            "SELECT category_id, count(*) AS books FROM book_category GROUP BY 1"
        )
    }
    errors = [_error(value["count"], truth[value["id"]]) for value in counts.facets["category"]]
    print(
        f"category facet (top 20 of the catalog): error median {statistics.median(errors):.1%},"
        f" max {max(errors):.1%}, within 20%: {sum(e <= 0.2 for e in errors)}/{len(errors)}"
    )


async def measure(dsn: str) -> None:
    terms = await sample_terms(dsn)
    slugs = terms.biggest_category_slugs
    groups = _category_groups(slugs)
    # The same filters are measured twice: their totals, then their facet counts.
    by_category = [BookFilters(category=s) for s in slugs]
    by_group = [BookFilters(category=tuple(g)) for g in groups]
    by_price_range = [
        BookFilters(category=s, price_min=Decimal(low), price_max=Decimal(high))
        for s in slugs[:4]
        for low, high in PRICE_RANGES
    ]
    app = create_app(Settings(search_log=False))
    db = await asyncpg.connect(dsn)
    try:
        ids = {row["slug"]: row["id"] for row in await db.fetch("SELECT id, slug FROM categories")}
        async with app.router.lifespan_context(app):
            await _totals(db, "total", by_category, ids)
            await _totals(db, "categories_any", by_group, ids)
            await _totals(
                db,
                "categories_all",
                [BookFilters(category=tuple(g[:2]), category_mode="all") for g in groups],
                ids,
            )
            await _totals(db, "price_range", by_price_range, ids)
            await _decades_and_bands(db, "facets of a category", by_category, ids)
            await _decades_and_bands(
                db, "facets of a category and a price range", by_price_range, ids
            )
            await _decades_and_bands(db, "facets of categories_any", by_group, ids)
            await _category_facet(db, slugs[0])
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimates", description=__doc__)
    parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ:
        raise SystemExit("DATABASE_URL must name a seeded catalog, e.g. .../bookstore_bench")
    asyncio.run(measure(os.environ["DATABASE_URL"]))


if __name__ == "__main__":
    main()
