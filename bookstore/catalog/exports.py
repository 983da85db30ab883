"""Exporting the catalog as CSV or JSON Lines, in the shape ``bookstore import`` reads.

One row per book, in id order, with the fields of ``TRANSFER_FIELDS``:
the author by name, the categories as their names joined by ``;``, the price
with two decimals. Rows come from a server-side cursor inside one
transaction (one snapshot: a book edited meanwhile is exported once, as it
was) and leave in chunks, so memory stays flat whatever the catalog's size:
the process holds one chunk of rows at a time.

>>> async for chunk in export_books(BookFilters(category="fantasy"), TransferFormat.csv):
...     sink.write(chunk)
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from enum import StrEnum
from typing import Any

import orjson
from piccolo.querystring import QueryString

from bookstore.catalog.filters import BookFilters, Criteria, resolve
from bookstore.catalog.pages import in_ranges
from bookstore.catalog.statements import all_of
from bookstore.database import DatabaseConnection, connection
from bookstore.settings import get_settings
from bookstore.tables import Book

# The columns of an export and of an import, in this order.
TRANSFER_FIELDS = (
    "title",
    "author",
    "isbn",
    "categories",
    "published_year",
    "price",
    "description",
)

# Categories of a book, joined into one field (CSV has no lists).
CATEGORY_SEPARATOR = ";"

# Rows fetched from the cursor, and encoded, per chunk sent.
ROWS_PER_CHUNK = 1000

# A client that stops reading holds the export's transaction (and its
# snapshot, which keeps VACUUM from cleaning up) open: the server ends it
# after this long without a fetch.
STALLED_EXPORT_TIMEOUT = "60s"


class TransferFormat(StrEnum):
    """The file formats of import and export."""

    csv = "csv"
    jsonl = "jsonl"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is TransferFormat.csv else "application/jsonl"


def _export_statement(criteria: Criteria) -> QueryString:
    """Every matching book with its author's and categories' names, in id order.

    Unlike a page of ``GET /books``, an export reads everything it matches,
    so the plan is a walk of the books' primary key (or, for listed authors,
    their books by the author index) with one index-only probe per book for
    its category ids: no sort, no hash of the whole catalog, rows from the
    first fetch on. The ids are named from ``ExportNames``: joining
    categories per book made PostgreSQL hash the whole table for every
    book (90 us a book, 90 s a million).
    """
    conditions = []
    if criteria.author_ids is not None:
        conditions.append(QueryString("b.author_id = ANY({}::integer[])", criteria.author_ids))
    if criteria.author_pattern is not None:
        conditions.append(
            QueryString(
                "b.author_id IN (SELECT id FROM authors WHERE name ILIKE {})",
                criteria.author_pattern,
            )
        )
    for category_ids in criteria.category_sets:
        conditions.append(
            QueryString(
                "EXISTS (SELECT 1 FROM book_category x WHERE x.book_id = b.id"
                " AND x.category_id = ANY({}::integer[]))",
                category_ids,
            )
        )
    # Tested on each book of the walk: a range index would need a sort.
    conditions += in_ranges(criteria, "b.published_year", "b.price")
    return QueryString(
        "SELECT b.title, a.name AS author, b.isbn,"
        " ARRAY(SELECT category_id FROM book_category WHERE book_id = b.id) AS category_ids,"
        " b.published_year, b.price, b.description"
        " FROM books b JOIN authors a ON a.id = b.author_id"
        " WHERE {} ORDER BY b.id",
        all_of(conditions),
    )


class ExportNames(dict[int, str]):
    """Category id -> name, read once per export in the export's own snapshot.

    Not ``category_names.CategoryNames``, kept per catalog version for the
    API: an export's rows and names must come from one snapshot."""

    def joined(self, category_ids: Sequence[int]) -> str:
        return CATEGORY_SEPARATOR.join(sorted(self[category_id] for category_id in category_ids))


def _fields(row: Any, names: ExportNames) -> list[Any]:
    price = row["price"]
    return [
        row["title"],
        row["author"],
        row["isbn"],
        names.joined(row["category_ids"]),
        row["published_year"],
        None if price is None else f"{price:.2f}",
        row["description"],
    ]


def encode_csv(rows: Sequence[Any], names: ExportNames, *, header: bool = False) -> bytes:
    """Rows as CSV (RFC 4180 quoting; an empty field is a missing value)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow(TRANSFER_FIELDS)
    writer.writerows(
        ["" if value is None else value for value in _fields(row, names)] for row in rows
    )
    return text.getvalue().encode()


def encode_jsonl(rows: Sequence[Any], names: ExportNames) -> bytes:
    """Rows as JSON Lines: one object per line, missing values as null."""
    return b"".join(
        orjson.dumps(dict(zip(TRANSFER_FIELDS, _fields(row, names), strict=True))) + b"\n"
        for row in rows
    )


async def _rows(
    db: DatabaseConnection, criteria: Criteria, rows_per_chunk: int
) -> AsyncIterator[list[Any]]:
    sql, args = _export_statement(criteria).compile_string(engine_type="postgres")
    cursor = await db.cursor(sql, *args)
    while rows := await cursor.fetch(rows_per_chunk):
        yield rows


async def export_books(
    filters: BookFilters,
    file_format: TransferFormat,
    *,
    rows_per_chunk: int = ROWS_PER_CHUNK,
    on_rows: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """The books matching ``filters``, encoded in chunks; the CSV header comes first.

    The first chunk is produced once the filters are resolved and the
    cursor is open (for JSON Lines it may be empty): a caller that waits
    for it knows the export has started, and any failure before it can
    still become an error response. ``on_rows`` is told how many rows each
    chunk holds (for a progress count).
    """
    statement_timeout_ms = get_settings().export_statement_timeout_ms
    async with connection(Book._meta.db) as db, db.transaction(readonly=True):
        # Each fetch of the cursor gets the export's own timeout, not the
        # API's (5 s), which a loaded server or a selective filter exceeded
        # mid-file. Both settings end with the transaction.
        await db.execute(
            f"SET LOCAL idle_in_transaction_session_timeout = '{STALLED_EXPORT_TIMEOUT}';"
            f" SET LOCAL statement_timeout = {int(statement_timeout_ms)}"
        )
        criteria = await resolve(filters, db)
        names = ExportNames(await db.fetch("SELECT id, name FROM categories"))
        yield encode_csv([], names, header=True) if file_format is TransferFormat.csv else b""
        if criteria.matches_nothing():
            return
        async for rows in _rows(db, criteria, rows_per_chunk):
            if on_rows is not None:
                on_rows(len(rows))
            if file_format is TransferFormat.csv:
                yield encode_csv(rows, names)
            else:
                yield encode_jsonl(rows, names)
