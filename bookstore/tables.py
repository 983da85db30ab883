"""The schema, read top to bottom.

Table and column names are part of the contract: staff query them with psql
and DBeaver. Indexes Piccolo cannot declare (composite, trigram) live in the
raw-SQL migrations next to the generated ones, each with the query it serves.
"""

from __future__ import annotations

from piccolo.columns import (
    M2M,
    DoublePrecision,
    ForeignKey,
    Integer,
    LazyTableReference,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table


class Author(Table, tablename="authors"):
    name = Varchar(length=200, null=False)
    bio = Text(null=True, default=None)


class Category(Table, tablename="categories"):
    name = Varchar(length=100, null=False, unique=True)
    slug = Varchar(length=100, null=False, unique=True)
    description = Text(null=True, default=None)
    books = M2M(LazyTableReference("BookCategory", module_path=__name__))


class Book(Table, tablename="books"):
    title = Varchar(length=300, null=False)
    # Always ISBN-13: ISBN-10 input is converted, so one book has one key.
    isbn = Varchar(length=13, null=True, default=None, unique=True)
    published_year = Integer(null=True, default=None)
    price = Numeric(digits=(10, 2), null=True, default=None)
    description = Text(null=True, default=None)
    # RESTRICT: deleting an author must never silently delete their books.
    author = ForeignKey(
        Author,
        null=False,
        index=True,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        db_column_name="author_id",
    )
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
    categories = M2M(LazyTableReference("BookCategory", module_path=__name__))

    price_not_negative = Check(price >= 0)


class BookCategory(Table, tablename="book_category"):
    """The join table behind ``Book.categories`` / ``Category.books``."""

    book = ForeignKey(
        Book,
        null=False,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        db_column_name="book_id",
    )
    # RESTRICT: a category in use is refused deletion rather than silently
    # stripped from its books.
    category = ForeignKey(
        Category,
        null=False,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        db_column_name="category_id",
    )

    book_category_unique = Unique([book, category])


class SearchLog(Table, tablename="search_logs"):
    """One row per catalog search, written after the response is sent.

    Partitioned by UTC day in the database (``search_logs_YYYYMMDD``), with
    hourly and daily rollups beside it that Piccolo does not see (migration
    2026-11-29T03:35, docs/insights.md).
    """

    # ``id`` is bigint in the database (at 1,000 searches a second an integer
    # runs out within a month). Piccolo keeps its implicit Serial: its
    # migrations cannot change a serial's type and would try to add the
    # column again; Piccolo never checks the width, and Python's int has none.
    author = Text(null=True, default=None)
    category = Text(null=True, default=None)
    # The search box's text (``GET /books?q=``) as the customer typed it.
    q = Text(null=True, default=None)
    # The whole query string, parameters and all.
    query = Text(null=True, default=None)
    result_count = Integer(null=False, default=0)
    duration_ms = DoublePrecision(null=False, default=0.0)
    # Indexed by search_logs_created_at_id_idx (created_at, id), which serves
    # every query by time: a second index on created_at alone served none.
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


class ApiToken(Table, tablename="api_tokens"):
    """A named bearer token allowed to write to the catalog (``bookstore token ...``).

    Only the SHA-256 of the token is stored: a copy of this table does not
    let anyone write. A revoked token keeps its row (and its name) as a
    record; ``revoked_at`` set means it no longer opens anything.
    """

    name = Varchar(length=100, null=False, unique=True)
    token_hash = Varchar(length=64, null=False, unique=True, secret=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    revoked_at = Timestamptz(null=True, default=None)


class InstallationSecret(Table, tablename="installation_secrets"):
    """Keys generated once per installation and shared by every worker and host.

    ``cursor`` signs pagination cursors (``bookstore.installation_secrets``).
    Kept in the database rather than in each process's memory so that a
    cursor issued by one worker is accepted by the next; kept out of the
    source so that nobody can sign a cursor who cannot read this table.
    """

    name = Varchar(length=100, null=False, unique=True)
    value = Varchar(length=100, null=False, secret=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


TABLES: tuple[type[Table], ...] = (
    Author,
    Category,
    Book,
    BookCategory,
    SearchLog,
    ApiToken,
    InstallationSecret,
)
