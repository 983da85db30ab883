"""The categories a listed book shows: every category's name kept per catalog version.

A page's statement joined the links of its books to ``categories`` and
built each book's categories as JSON there: on PostgreSQL 15 at 1M books
0.25 of the statement's 0.8 ms (EXPLAIN ANALYZE of a ``category_big``
page: a probe of ``categories_pkey`` per link, a sort, ``json_agg`` per
book), and about 250 of 450-600 us on the embedded PostgreSQL 18
(docs/performance.md). The 300-odd categories change rarely, and every
write to ``categories`` moves ``catalog_version`` in its own transaction
(migration 2026-11-29T02:30). So a listing's page statement reads its
books' category ids (an index-only probe of ``book_category_unique`` per
book) and the catalog's version in its one snapshot, and the names come
from what was read at that same version: exactly what the join showed.

Usage::

    shown = await categories_at(db, version)  # None: the catalog moved meanwhile
    shown.of([3, 12])  # [{"id": 12, "name": "Fantasy", "slug": "fantasy"}, {"id": 3, ...}]
"""

from __future__ import annotations

from bookstore.catalog.kept import KeptAtVersion
from bookstore.database import DatabaseConnection

Shown = dict[str, int | str]

# Every category, in the order a book's categories are shown (by name, then
# id, in the database's collation), and the version in the same snapshot.
# The LEFT JOIN keeps the version's row when there is no category at all.
_CATEGORIES_AT_VERSION = (
    "SELECT v.version, c.id, c.name, c.slug"
    " FROM catalog_version v LEFT JOIN categories c ON TRUE"
    " ORDER BY c.name, c.id"
)


class CategoriesShown:
    """Every category as a book shows it, and the order in which a book shows its own."""

    __slots__ = ("_rank", "_shown")

    def __init__(self, shown: list[Shown]) -> None:
        """``shown``: every category, ``{"id", "name", "slug"}``, in the order of display."""
        self._shown = {category["id"]: category for category in shown}
        self._rank = {category_id: rank for rank, category_id in enumerate(self._shown)}

    def of(self, category_ids: list[int]) -> list[Shown] | None:
        """The categories ``category_ids`` as a book shows them, by name; None when one
        of them is unknown (then these names are not the page's).

        The dicts are shared by every book and page of this version: a response is
        encoded from them and nothing changes them (a copy of each, about 40 a
        page, was 1.2% of a ``category_big`` request's instructions).
        """
        shown = self._shown
        try:
            if len(category_ids) == 1:
                return [shown[category_ids[0]]]
            return [shown[i] for i in sorted(category_ids, key=self._rank.__getitem__)]
        except KeyError:
            return None


_kept = KeptAtVersion[None, CategoriesShown](1)


async def categories_at(db: DatabaseConnection, version: int | None) -> CategoriesShown | None:
    """Every category as it was at catalog ``version``; None when ``db`` now reads another.

    Read at most once per version: what was read in the same snapshot as the
    version holds exactly for it (``bookstore.catalog.kept``). Not kept when
    read inside a transaction, whose own uncommitted writes may have moved
    the version to a number that a rollback hands out again.
    """
    held = _kept.held(version, None)
    if held is not None:
        return held
    rows = await db.fetch(_CATEGORIES_AT_VERSION)
    if not rows:  # no version row: nothing to keep the names for
        return None
    read_at = rows[0]["version"]
    shown = CategoriesShown(
        [
            {"id": row["id"], "name": row["name"], "slug": row["slug"]}
            for row in rows
            if row["id"] is not None
        ]
    )
    if not db.is_in_transaction():
        _kept.keep(read_at, None, shown)
    return shown if read_at == version else None
