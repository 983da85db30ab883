"""Every category's id, name and slug as read at one catalog version, kept for that version.

Two readers need them: a listing's page, to show each book's categories,
and the category facet, to name the categories it counts. The 300-odd
categories change rarely, and every write to ``categories`` moves
``catalog_version`` in its own transaction (migration 2026-11-29T02:30),
so what was read in the same snapshot as a version holds exactly for it
(``bookstore.catalog.kept``): one read per version serves both.

A page's statement once joined the links of its books to ``categories``
and built each book's categories as JSON there: on PostgreSQL 15 at 1M
books 0.25 of the statement's 0.8 ms (EXPLAIN ANALYZE of a
``category_big`` page: a probe of ``categories_pkey`` per link, a sort,
``json_agg`` per book), and about 250 of 450-600 us on the embedded
PostgreSQL 18 (docs/performance.md). So a listing's page statement reads
its books' category ids and the catalog's version in its one snapshot,
and the names come from what was read at that same version: exactly what
the join showed. The facets read the names in the same statement as
their counts (``category_counts``), and keep them here.

Usage::

    names = await categories_at(db, version)  # None: the catalog moved meanwhile
    names.of([3, 12])  # [{"id": 12, "name": "Fantasy", "slug": "fantasy"}, {"id": 3, ...}]
    names.by_id[12]  # {"id": 12, "name": "Fantasy", "slug": "fantasy"}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bookstore.catalog.kept import KeptAtVersion
from bookstore.database import DatabaseConnection

Shown = dict[str, int | str]

# The order in which a book shows its categories: by name, then id, in the
# database's collation (which Python's sort does not know).
ORDER = "name, id"

# Every category, in that order, and the version in the same snapshot. The
# LEFT JOIN keeps the version's row when there is no category at all.
_CATEGORIES_AT_VERSION = (
    "SELECT v.version, c.id, c.name, c.slug"
    f" FROM catalog_version v LEFT JOIN categories c ON TRUE ORDER BY {ORDER}"
)


class CategoryNames:
    """Every category, ``{"id", "name", "slug"}``: by id, and in the order a book shows its own."""

    __slots__ = ("_rank", "by_id")

    def __init__(self, rows: Iterable[Any]) -> None:
        """``rows``: every category (id, name, slug), in ``ORDER``."""
        self.by_id: dict[int, Shown] = {
            row["id"]: {"id": row["id"], "name": row["name"], "slug": row["slug"]} for row in rows
        }
        self._rank = {category_id: rank for rank, category_id in enumerate(self.by_id)}

    def of(self, category_ids: list[int]) -> list[Shown] | None:
        """The categories ``category_ids`` as a book shows them, by name; None when one
        of them is unknown (then these names are not the page's).

        The dicts are shared by every book and page of this version: a response is
        encoded from them and nothing changes them (a copy of each, about 40 a
        page, was 1.2% of a ``category_big`` request's instructions).
        """
        by_id = self.by_id
        try:
            if len(category_ids) == 1:
                return [by_id[category_ids[0]]]
            return [by_id[i] for i in sorted(category_ids, key=self._rank.__getitem__)]
        except KeyError:
            return None


_kept = KeptAtVersion[None, CategoryNames](1)


def kept_names() -> tuple[CategoryNames | None, int | None]:
    """The names kept, and the version they were read at (None, None: none kept)."""
    names = _kept.latest(None)
    return names, (None if names is None else _kept.version)


def keep_names(db: DatabaseConnection, version: int | None, names: CategoryNames) -> None:
    """Keep ``names``, read at ``version`` by ``db``, unless newer ones are kept.

    Not kept when read inside a transaction, whose own uncommitted writes may
    have moved the version to a number that a rollback hands out again.
    """
    if not db.is_in_transaction():
        _kept.keep(version, None, names)


async def categories_at(db: DatabaseConnection, version: int | None) -> CategoryNames | None:
    """Every category as it was at catalog ``version``; None when ``db`` now reads another.

    Read at most once per version (``keep_names``).
    """
    held = _kept.held(version, None)
    if held is not None:
        return held
    rows = await db.fetch(_CATEGORIES_AT_VERSION)
    if not rows:  # no version row: nothing to keep the names for
        return None
    read_at = rows[0]["version"]
    names = CategoryNames(row for row in rows if row["id"] is not None)
    keep_names(db, read_at, names)
    return names if read_at == version else None
