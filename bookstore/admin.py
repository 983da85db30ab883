"""Piccolo Admin: the store's back office, mounted at ``/admin/``.

Staff browse and fix the catalog (menu group *Catalog*), read what customers
search for (*Insights*, read-only) and manage staff accounts (*Staff*;
superusers only). Sign-in is Piccolo's ``BaseUser`` with session cookies, on
the tables of the ``user`` and ``session_auth`` apps in piccolo_conf.py.

>>> app.include_router(admin_routes(get_settings()))  # /admin/, and its pool

Four things stand between piccolo-admin 1.14 and our schema, each handled
below where it is met:

- **Foreign keys named in the database.** ``Book.author`` is stored as
  ``author_id`` (``db_column_name``). piccolo-api's pydantic models alias the
  field to ``author_id`` and then look the column up by that alias, so the
  books list fails to render, the author filter answers 400 (or matches
  nothing), and saving a book fails on NOT NULL. The admin therefore sees the
  tables through subclasses whose foreign keys are named as their columns.
- **OFFSET on a million rows.** Every list page is ``ORDER BY ... LIMIT 15
  OFFSET n``, and PostgreSQL builds, joins and discards every skipped row:
  the last page of books took 7 s. ``DeepPageSelect`` counts the skipped rows
  on an index and reads only the page's own rows.
- **Generic plans.** The API's pool plans each statement once, for any
  parameters (``bookstore.database.pool_options``); for ``title ILIKE $1``
  such a plan cannot tell a rare fragment from a common one and walks the
  whole title index (5 s). The admin's tables run on an engine of their own,
  planned per value. Its "Set book categories" form writes through
  ``bookstore.catalog`` on the API's pool: statements by primary key.
- **Writes bypass** ``bookstore.catalog``. Piccolo Admin writes through
  piccolo-api's ``PiccoloCRUD``; hooks keep the API's rules for its writes:
  ISBN-13, a category slug derived from its name, ``updated_at`` moved.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Column, ForeignKey, Serial
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.readable import Readable
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.query.methods.select import Select
from piccolo.query.mixins import OffsetDelegate, WhereDelegate
from piccolo.querystring import QueryString, Selectable
from piccolo_admin.endpoints import FileResponse, FormConfig, TableConfig, create_admin
from piccolo_api.crud.endpoints import OrderBy, PiccoloCRUD
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from piccolo_api.rate_limiting.middleware import InMemoryLimitProvider
from piccolo_api.session_auth.tables import SessionsBase
from pydantic import BaseModel, Field, model_validator
from starlette.exceptions import HTTPException
from starlette.requests import Request

from bookstore import catalog
from bookstore.database import with_server_settings
from bookstore.errors import CatalogError
from bookstore.isbn import normalize_isbn
from bookstore.schemas import slugify
from bookstore.settings import Settings
from bookstore.tables import Author, Book, BookCategory, Category, SearchLog

SITE_NAME = "Bookstore back office"
CATALOG, INSIGHTS, STAFF = "Catalog", "Insights", "Staff"

# -- how the admin reads the tables -------------------------------------------


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


class AdminSearchLog(DeepPages, SearchLog, tablename="search_logs"):
    id: Serial


ADMIN_TABLES = (AdminAuthor, AdminCategory, AdminBook, AdminBookCategory, AdminSearchLog)
ADMIN_POOL_SIZE = 4
ADMIN_STATEMENT_TIMEOUT_MS = 15_000


@asynccontextmanager
async def admin_database(app: object) -> AsyncIterator[None]:
    """A lifespan giving the admin's tables an engine and pool of their own.

    ``plan_cache_mode=force_custom_plan``: each list page is planned for its
    own filter values, so "title contains zebra" uses the trigram index and
    "title contains a" walks the title index, however often either ran
    before. The pool of its own keeps staff's counts from holding the
    connections customers' searches wait for. Without this lifespan (an admin
    app built alone, in tests) the tables fall back to the shared engine.
    """
    shared = await asyncio.to_thread(engine_finder)  # may start the embedded server
    if not isinstance(shared, PostgresEngine):
        raise RuntimeError("piccolo_conf.DB must be a PostgresEngine")
    config = with_server_settings(
        shared.config,
        application_name="bookstore-admin",
        plan_cache_mode="force_custom_plan",
        statement_timeout=str(ADMIN_STATEMENT_TIMEOUT_MS),
    )
    # Building an engine checks the server version: a blocking round trip.
    engine = await asyncio.to_thread(PostgresEngine, config=config)
    await engine.start_connection_pool(min_size=1, max_size=ADMIN_POOL_SIZE)
    for table in ADMIN_TABLES:
        table._meta.db = engine
    try:
        yield
    finally:
        for table in ADMIN_TABLES:
            table._meta.db = shared
        await engine.close_connection_pool()


# -- write hooks: the API's rules, for the admin's writes too ----------------


def _isbn_13(raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None  # an emptied field means "no ISBN", not a second ""
    try:
        return normalize_isbn(str(raw))
    except ValueError as error:
        raise HTTPException(status_code=422, detail=f"isbn: {error}") from error


def _book_before_insert(row: AdminBook) -> AdminBook:
    row.isbn = _isbn_13(row.isbn)
    return row


def _book_before_update(row_id: int, values: dict[Column, Any]) -> dict[Column, Any]:
    # PiccoloCRUD keys the new values by Column; Column.__eq__ builds SQL, so
    # compare names rather than test `column in values`.
    changed = {column._meta.name: column for column in values}
    if "isbn" in changed:
        values[changed["isbn"]] = _isbn_13(values[changed["isbn"]])
    if "created_at" in changed:
        # The edit form sends every field back, its times cut to the second:
        # saving a price must not rewrite when the book was added.
        del values[changed["created_at"]]
    values[AdminBook.updated_at] = datetime.now().astimezone()
    return values


def _category_before_insert(row: AdminCategory) -> AdminCategory:
    # The API finds categories by lower-case slug: normalise what staff type.
    row.slug = slugify(row.slug or row.name)
    return row


def _category_before_update(row_id: int, values: dict[Column, Any]) -> dict[Column, Any]:
    changed = {column._meta.name: column for column in values}
    if "slug" in changed:
        typed = values[changed["slug"]]
        if typed:
            values[changed["slug"]] = slugify(typed)
        elif "name" in changed:
            values[changed["slug"]] = slugify(values[changed["name"]])
    return values


def _spreadsheet_safe(value: Any) -> Any:
    """Customers type the search terms: keep a spreadsheet from running them
    as formulas (=HYPERLINK(...) and the like)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def read_only(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    """A PiccoloCRUD validator refusing every write to its table.

    piccolo-admin 1.14 has ``read_only`` for the whole admin only; validators
    run before each endpoint of the table they are given to.
    """
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        raise HTTPException(status_code=405, detail="This table is read-only.")


# -- what each table shows ----------------------------------------------------


def _ordered(*columns: Column, descending: bool = False) -> list[OrderBy]:
    return [OrderBy(column=column, ascending=not descending) for column in columns]


def table_configs() -> list[TableConfig]:
    """Columns, filters and order of each table in the admin.

    Each order is one an index walks, so the first page reads fifteen index
    entries and a deep page an index-only range (see ``DeepPageSelect``).
    """
    return [
        TableConfig(
            AdminBook,
            visible_columns=[
                AdminBook.title,
                AdminBook.author_id,
                AdminBook.published_year,
                AdminBook.price,
            ],
            visible_filters=[
                AdminBook.author_id,
                AdminBook.title,
                AdminBook.published_year,
                AdminBook.price,
            ],
            order_by=_ordered(AdminBook.title, AdminBook.id),  # books_title_id_idx
            link_column=AdminBook.title,
            menu_group=CATALOG,
            hooks=[
                Hook(HookType.pre_save, _book_before_insert),
                Hook(HookType.pre_patch, _book_before_update),
            ],
        ),
        TableConfig(
            AdminAuthor,
            visible_columns=[AdminAuthor.name],
            visible_filters=[AdminAuthor.name],
            order_by=_ordered(AdminAuthor.name, AdminAuthor.id),  # authors_name_id_idx
            link_column=AdminAuthor.name,
            menu_group=CATALOG,
        ),
        TableConfig(
            AdminCategory,
            visible_columns=[AdminCategory.name, AdminCategory.slug],
            visible_filters=[AdminCategory.name, AdminCategory.slug],
            order_by=_ordered(AdminCategory.name),
            link_column=AdminCategory.name,
            menu_group=CATALOG,
            hooks=[
                Hook(HookType.pre_save, _category_before_insert),
                Hook(HookType.pre_patch, _category_before_update),
            ],
        ),
        # piccolo-admin has no M2M widget: staff link a book to a category by
        # adding a row here, or with the "Set book categories" form.
        TableConfig(
            AdminBookCategory,
            visible_columns=[
                AdminBookCategory.id,
                AdminBookCategory.book_id,
                AdminBookCategory.category_id,
            ],
            visible_filters=[AdminBookCategory.book_id, AdminBookCategory.category_id],
            order_by=_ordered(AdminBookCategory.id, descending=True),  # newest links first
            menu_group=CATALOG,
        ),
        TableConfig(
            AdminSearchLog,
            visible_columns=[
                AdminSearchLog.created_at,
                AdminSearchLog.author,
                AdminSearchLog.category,
                AdminSearchLog.query,
                AdminSearchLog.result_count,
                AdminSearchLog.duration_ms,
            ],
            visible_filters=[
                AdminSearchLog.created_at,
                AdminSearchLog.author,
                AdminSearchLog.category,
                AdminSearchLog.query,
                AdminSearchLog.result_count,
            ],
            # search_logs_created_at_id_idx
            order_by=_ordered(AdminSearchLog.created_at, AdminSearchLog.id, descending=True),
            link_column=AdminSearchLog.created_at,
            menu_group=INSIGHTS,
            validators=Validators(every=[read_only]),
            time_resolution={AdminSearchLog.created_at: 0.001},
        ),
        TableConfig(
            BaseUser,
            visible_columns=[
                BaseUser.username,
                BaseUser.email,
                BaseUser.active,
                BaseUser.admin,
                BaseUser.superuser,
                BaseUser.last_login,
            ],
            visible_filters=[BaseUser.username, BaseUser.email, BaseUser.active],
            order_by=_ordered(BaseUser.username),
            link_column=BaseUser.username,
            menu_group=STAFF,
        ),
    ]


# -- custom forms --------------------------------------------------------------


class BookCategoriesForm(BaseModel):
    book_id: int = Field(gt=0, description="The number at the end of the book's page address.")
    categories: str = Field(
        default="",
        description="Category names or slugs, separated by commas. Empty removes them all.",
    )


async def set_book_categories(request: Request, form: BookCategoriesForm) -> str:
    """Replace a book's categories in one step: the M2M editor the admin lacks."""
    wanted = [name.strip() for name in form.categories.split(",") if name.strip()]
    ids_by_key: dict[str, int] = {}
    for category in await catalog.list_categories():
        ids_by_key[category["name"].casefold()] = category["id"]
        ids_by_key[category["slug"].casefold()] = category["id"]
    unknown = [name for name in wanted if name.casefold() not in ids_by_key]
    if unknown:
        raise ValueError(f"No category named {', '.join(map(repr, unknown))}.")
    category_ids = sorted({ids_by_key[name.casefold()] for name in wanted})
    try:
        book = await catalog.update_book(form.book_id, {}, category_ids)
    except CatalogError as error:
        raise ValueError(str(error)) from error  # the admin shows a ValueError's message
    names = ", ".join(category["name"] for category in book["categories"]) or "no category"
    return f"{book['title']!r} is now in: {names}."


class SearchLogRangeForm(BaseModel):
    since: datetime = Field(description="From this time (included).")
    until: datetime = Field(description="To this time (excluded).")
    zero_results_only: bool = Field(default=False, description="Only searches that found nothing.")

    @model_validator(mode="after")
    def _since_before_until(self) -> SearchLogRangeForm:
        if self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


SEARCH_LOG_EXPORT_LIMIT = 100_000
SEARCH_LOG_EXPORT_COLUMNS = (
    AdminSearchLog.created_at,
    AdminSearchLog.author,
    AdminSearchLog.category,
    AdminSearchLog.query,
    AdminSearchLog.result_count,
    AdminSearchLog.duration_ms,
)


async def export_search_logs(request: Request, form: SearchLogRangeForm) -> FileResponse:
    """The searches between two times, as CSV.

    The list view's filters take one operator per column (after *or* before a
    time); this form takes both bounds. On the admin's engine: planned for
    the range and filter given (the zero-results filter has an index of its
    own, which a plan made for any ``result_count`` could not use).
    """
    query = AdminSearchLog.select(*SEARCH_LOG_EXPORT_COLUMNS).where(
        AdminSearchLog.created_at >= form.since, AdminSearchLog.created_at < form.until
    )
    if form.zero_results_only:
        query = query.where(AdminSearchLog.result_count == 0)
    rows = await query.order_by(AdminSearchLog.created_at).limit(SEARCH_LOG_EXPORT_LIMIT + 1)
    if len(rows) > SEARCH_LOG_EXPORT_LIMIT:
        raise ValueError(f"More than {SEARCH_LOG_EXPORT_LIMIT:,} searches: narrow the range.")
    contents = io.StringIO()
    writer = csv.DictWriter(contents, [column._meta.name for column in SEARCH_LOG_EXPORT_COLUMNS])
    writer.writeheader()
    writer.writerows({key: _spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    name = f"searches-{form.since:%Y%m%dT%H%M}-{form.until:%Y%m%dT%H%M}.csv"
    return FileResponse(contents=contents, file_name=name, media_type="text/csv")


def form_configs() -> list[FormConfig]:
    return [
        FormConfig(
            name="Set book categories",
            pydantic_model=BookCategoriesForm,
            endpoint=set_book_categories,
            description="Replaces the book's categories with the ones listed.",
            form_group=CATALOG,
        ),
        FormConfig(
            name="Export searches",
            pydantic_model=SearchLogRangeForm,
            endpoint=export_search_logs,
            description="The searches customers made between two times, as CSV.",
            form_group=INSIGHTS,
        ),
    ]


# -- the app -------------------------------------------------------------------


def create_admin_app(settings: Settings) -> FastAPI:
    """The admin as an ASGI app, to mount at ``/admin/``.

    The trailing slash matters: the admin's page loads its assets by relative
    path. ``production`` makes the session cookie HTTPS-only; under HTTPS the
    admin refuses writes whose Origin/Referer host is not in ``allowed_hosts``.
    """
    window = settings.admin_login_window
    admin: FastAPI = create_admin(
        tables=table_configs(),
        forms=form_configs(),
        auth_table=BaseUser,
        session_table=SessionsBase,
        site_name=SITE_NAME,
        production=settings.production,
        allowed_hosts=settings.allowed_hosts,
        # piccolo-admin's default limiter blocks an address until the process
        # restarts; behind a proxy that address is everyone's. Block for one window.
        rate_limit_provider=InMemoryLimitProvider(
            limit=settings.admin_login_attempts, timespan=window, block_duration=window
        ),
        sidebar_links={"API docs": "/docs"},
    )
    return admin


def admin_routes(settings: Settings) -> APIRouter:
    """The admin at ``/admin/``, with the lifespan of its database pool.

    Include it with ``app.include_router``: FastAPI runs an included router's
    lifespan with the app's, which a plain ``app.mount`` would not.
    """
    router = APIRouter(lifespan=admin_database)
    router.mount("/admin/", create_admin_app(settings))
    return router


# -- staff accounts ------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


DEMO_ADMIN_USERNAME = "admin"


async def create_admin_user(username: str, password: str, email: str | None = None) -> BaseUser:
    """An active superuser, who can sign in to the admin and manage staff.

    Raises ValueError, with a message fit for the console, when the username
    is taken or Piccolo refuses the password (6 to 128 characters).
    """
    if await BaseUser.exists().where(BaseUser.username == username):
        raise ValueError(f"a user named {username!r} already exists")
    # piccolo_user.email is NOT NULL and unique: a placeholder per user.
    return await BaseUser.create_user(
        username=username,
        password=password,
        email=email or f"{username}@localhost",
        admin=True,
        superuser=True,
        active=True,
    )


async def create_demo_admin() -> Credentials | None:
    """On a database without users, an admin with a fresh random password.

    Returns the credentials for the caller to show once, or None when any
    user exists. Never a fixed password: a demo left running must not be an
    open door.
    """
    if await BaseUser.count() > 0:
        return None
    credentials = Credentials(DEMO_ADMIN_USERNAME, secrets.token_urlsafe(16))
    await create_admin_user(credentials.username, credentials.password)
    return credentials
