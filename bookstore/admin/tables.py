"""How the admin reads the tables: deep pages on an index, names on the trigram index.

The admin sees the catalog through subclasses of the API's tables whose
foreign keys are named as their columns (see ``bookstore.admin``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from piccolo.columns import DoublePrecision, ForeignKey, Serial
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.readable import Readable
from piccolo.query.methods.select import Select
from piccolo.query.mixins import OffsetDelegate, WhereDelegate
from piccolo.querystring import QueryString, Selectable

from bookstore.tables import Author, Book, BookCategory, Category, SearchLog


class DeepPageSelect(Select):
    """A SELECT that finds its page on an index before reading any row.

    piccolo-admin asks for ``... ORDER BY title, id LIMIT 15 OFFSET 999985``
    joined to authors; PostgreSQL reads and joins every skipped row. With an
    offset this runs instead::

        SELECT <columns> FROM books LEFT JOIN authors ...
        WHERE books.id IN (SELECT books.id FROM books WHERE <filters>
                           ORDER BY title, id LIMIT 15 OFFSET 999985)
        ORDER BY title, id LIMIT 15

    The inner query needs only the ids in the list's order, which an
    index-only scan of ``books_title_id_idx`` gives (0.1 s for a million), and
    the outer one reads and joins fifteen rows.
    """

    __slots__ = ()

    @property
    def default_querystrings(self) -> Sequence[QueryString]:
        if self.offset_delegate._offset is None:
            return super().default_querystrings
        primary_key = self.table._meta.primary_key
        page_ids = Select(table=self.table, columns_list=[primary_key])
        page_ids.where_delegate = self.where_delegate
        page_ids.order_by_delegate = self.order_by_delegate
        page_ids.limit_delegate = self.limit_delegate
        page_ids.offset_delegate = self.offset_delegate
        page = copy.copy(self)
        page.offset_delegate = OffsetDelegate()
        page.where_delegate = WhereDelegate()
        page.where_delegate.where(primary_key.is_in(page_ids))
        return Select.default_querystrings.fget(page)  # type: ignore[attr-defined,no-any-return]


class IndexedReadable(Readable):
    """A row's name as the bare column, where Piccolo writes ``FORMAT('%s', column)``.

    The admin's pickers search ``readable ILIKE '%...%'``. Over the bare
    column PostgreSQL uses its trigram index (books.title, authors.name); over
    FORMAT(...) it reads the whole table: 0.8 s on a million books.
    """

    @property
    def postgres_string(self) -> QueryString:
        (column,) = self.columns
        return QueryString(f"{column._meta.get_full_name(with_alias=False)} AS {self.output_name}")


class DeepPages:
    """Mixin for the admin's tables: their selects are ``DeepPageSelect``."""

    @classmethod
    def select(cls, *columns: Selectable | str, exclude_secrets: bool = False) -> Select:
        table: Any = cls
        return DeepPageSelect(
            table=table,
            columns_list=table._process_column_args(*columns),
            exclude_secrets=exclude_secrets,
        )


# The admin's views of the catalog tables: the same tables, each foreign key
# named as its column (see the module docstring). Inherited M2M attributes are
# set to None: Piccolo rebinds an inherited M2M to the subclass instead of
# copying it, which would break ``Book.categories`` for the API.


class AdminAuthor(DeepPages, Author, tablename="authors"):
    id: Serial  # Piccolo's implicit primary key, declared for type checkers

    @classmethod
    def get_readable(cls) -> Readable:
        return IndexedReadable(template="%s", columns=[cls.name])


class AdminCategory(DeepPages, Category, tablename="categories"):
    books = None  # type: ignore[assignment]

    @classmethod
    def get_readable(cls) -> Readable:
        return IndexedReadable(template="%s", columns=[cls.name])


class AdminBook(DeepPages, Book, tablename="books"):
    id: Serial
    author = None  # type: ignore[assignment]
    categories = None  # type: ignore[assignment]
    author_id = ForeignKey(
        AdminAuthor, null=False, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade
    )

    @classmethod
    def get_readable(cls) -> Readable:
        return IndexedReadable(template="%s", columns=[cls.title])


class AdminBookCategory(DeepPages, BookCategory, tablename="book_category"):
    id: Serial
    book = None  # type: ignore[assignment]
    category = None  # type: ignore[assignment]
    book_id = ForeignKey(
        AdminBook, null=False, on_delete=OnDelete.cascade, on_update=OnUpdate.cascade
    )
    category_id = ForeignKey(
        AdminCategory, null=False, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade
    )


class RoundedMilliseconds(DoublePrecision):
    """A duration the admin shows to 0.1 ms (``4.9``, not ``4.869550000421441``).

    Rounded where it is selected; filters and ordering use the stored value.
    """

    def get_select_string(self, engine_type: str, with_alias: bool = True) -> QueryString:
        if not with_alias:
            return super().get_select_string(engine_type, with_alias=False)
        name = self._meta.get_full_name(with_alias=False)
        alias = self._alias or self._meta.get_default_alias()
        return QueryString(f'round({name}::numeric, 1)::double precision AS "{alias}"')


class AdminSearchLog(DeepPages, SearchLog, tablename="search_logs"):
    id: Serial
    duration_ms = RoundedMilliseconds(null=False, default=0.0)


ADMIN_TABLES = (AdminAuthor, AdminCategory, AdminBook, AdminBookCategory, AdminSearchLog)
