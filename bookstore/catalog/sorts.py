"""The orders a listing of books can be sorted in, and where a page of each resumes.

Every order is a keyset: (value, id), the id breaking ties in the order's
own direction, so that ``-price`` is ``price`` read backwards and one index
serves both. Books without the value (no price, no year) come last in both
directions: the page is read in two parts, the books with a value in the
index's order, then those without it (ordered by id, in the same direction),
each part a range of the same index. The cursor carries the last book's
value (None for a book without it) and id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from piccolo.querystring import QueryString

from bookstore.catalog.statements import literal_limit
from bookstore.errors import InvalidCursor
from bookstore.query_text import Sql
from bookstore.schemas import INT4_MAX

Value = str | int | Decimal | datetime | None


@dataclass(frozen=True)
class SortOrder:
    """One of the orders ``bookstore.schemas.SortParam`` names."""

    name: str
    field: str  # the column of books
    copy: str  # its copy on book_category
    descending: bool
    nullable: bool

    @property
    def direction(self) -> str:
        return "DESC" if self.descending else "ASC"

    def order_by(self, value: str, book_id: str) -> str:
        """ORDER BY of a merged page: books without the value last, then value, then id."""
        nulls = f"({value} IS NULL), " if self.nullable else ""
        return f"{nulls}{value} {self.direction}, {book_id} {self.direction}"

    def value_of(self, book: dict[str, object]) -> Value:
        """The sort value of a book as the listing returns it (price as "12.50")."""
        value = book[self.field]
        if self.field == "price" and value is not None:
            return Decimal(str(value))
        return value  # type: ignore[return-value]


_FIELDS = {
    "title": ("title", "book_title", False),
    "published_year": ("published_year", "book_year", True),
    "price": ("price", "book_price", True),
    "created_at": ("created_at", "book_created_at", False),
}


def sort_order(name: str) -> SortOrder:
    field = name.removeprefix("-")
    column, copy, nullable = _FIELDS[field]
    return SortOrder(name, column, copy, name.startswith("-"), nullable)


TITLE = sort_order("title")


class PageKey(NamedTuple):
    """Where a page resumes: after the book with this sort value (None: without one) and id."""

    value: Value
    id: int

    def encode(self, sort: SortOrder) -> list[object]:
        value: object = self.value
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        return [value, self.id]


def decode_key(sort: SortOrder, values: object) -> PageKey:
    """A ``PageKey`` from a cursor's payload, checked as strictly as any other input."""
    if not (isinstance(values, list) and len(values) == 2):
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    raw, id_ = values
    if type(id_) is not int or not 1 <= id_ <= INT4_MAX:
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    if raw is None and sort.nullable:
        return PageKey(None, id_)
    try:
        value = _value(sort.field, raw)
    except (ValueError, TypeError, InvalidOperation):
        raise InvalidCursor("cursor is malformed; use next_cursor as given") from None
    return PageKey(value, id_)


def _value(field: str, raw: object) -> Value:
    if field == "title" and isinstance(raw, str) and "\x00" not in raw:
        return raw
    if field == "published_year" and type(raw) is int and abs(raw) <= 10_000:
        return raw
    if field == "price" and isinstance(raw, str) and len(raw) <= 20:
        price = Decimal(raw)
        if price.is_finite():
            return price
    if field == "created_at" and isinstance(raw, str) and len(raw) <= 40:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is not None:
            return moment
    raise ValueError(raw)


def sort_after(sort: SortOrder, value: str, book_id: str, after: PageKey) -> QueryString:
    """Rows after ``after`` in ``sort``, as one condition (for rows sorted anyway)."""
    beyond = _beyond(sort)
    if after.value is None:
        return Sql(f"({value} IS NULL AND {book_id} {beyond} {{}})", after.id)
    keyset = f"({value}, {book_id}) {beyond} ({{}}, {{}})"
    if sort.nullable:
        return Sql(f"({keyset} OR {value} IS NULL)", after.value, after.id)
    return Sql(keyset, after.value, after.id)


def _beyond(sort: SortOrder) -> str:
    return "<" if sort.descending else ">"


def ordered_parts(
    sort: SortOrder,
    *,
    source: str | QueryString,
    value: str,
    book_id: str,
    conditions: QueryString,
    after: PageKey | None,
    limit: int,
    extra: str = "",
) -> list[QueryString]:
    """The statements that yield ``limit`` rows (id, value[, extra]) of one source in ``sort``.

    Each is a range of the index on (…, value, id) of ``source``, read in
    its order or backwards: first the books with a value after ``after``,
    then (for a nullable value) those without one. The caller merges them
    (``merged_page``); rows of the second part count only once the first
    is exhausted.
    """
    direction = sort.direction
    from_ = source if isinstance(source, QueryString) else Sql(source)
    columns = f"{book_id} AS id, {value} AS value{extra}"
    order = f"ORDER BY {value} {direction}, {book_id} {direction} {literal_limit(limit)}"
    parts = []
    if after is None or after.value is not None:
        keyset = Sql("TRUE")
        if after is not None:
            keyset = Sql(
                f"({value}, {book_id}) {_beyond(sort)} ({{}}, {{}})", after.value, after.id
            )
        not_null = f"{value} IS NOT NULL AND " if sort.nullable else ""
        parts.append(
            Sql(
                f"(SELECT {columns} FROM {{}} WHERE {not_null}{{}} AND {{}} {order})",
                from_,
                conditions,
                keyset,
            )
        )
    if sort.nullable:
        keyset = Sql("TRUE")
        if after is not None and after.value is None:
            keyset = Sql(f"{book_id} {_beyond(sort)} {{}}", after.id)
        # Ordered by (value, id) too, though value is NULL throughout: the
        # index then yields the rows in order, with no sort.
        parts.append(
            Sql(
                f"(SELECT {columns} FROM {{}} WHERE {value} IS NULL AND {{}} AND {{}} {order})",
                from_,
                conditions,
                keyset,
            )
        )
    return parts


def merged_page(
    sort: SortOrder, parts: list[QueryString], limit: int, columns: str = "id"
) -> QueryString:
    """``columns`` of the first ``limit`` rows of ``parts`` in ``sort`` (each row once)."""
    if len(parts) == 1:
        return Sql(f"SELECT {columns} FROM {{}} AS page", parts[0])
    merged = Sql(" UNION ".join("{}" for _ in parts), *parts)
    return Sql(
        f"SELECT {columns} FROM ({{}}) AS page ORDER BY {sort.order_by('value', 'id')}"
        f" {literal_limit(limit)}",
        merged,
    )
