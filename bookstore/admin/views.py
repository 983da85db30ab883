"""What each table shows in the admin, and the API's rules for the admin's writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.columns import Column
from piccolo_admin.endpoints import TableConfig
from piccolo_api.crud.endpoints import OrderBy, PiccoloCRUD
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from starlette.exceptions import HTTPException
from starlette.requests import Request

from bookstore.admin.accounts import StaffUser
from bookstore.admin.tables import (
    AdminAuthor,
    AdminBook,
    AdminBookCategory,
    AdminCategory,
    AdminSearchLog,
)
from bookstore.isbn import normalize_isbn
from bookstore.schemas import slugify

CATALOG, INSIGHTS, STAFF = "Catalog", "Insights", "Staff"


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


def read_only(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    """A PiccoloCRUD validator refusing every write to its table.

    piccolo-admin 1.14 has ``read_only`` for the whole admin only; validators
    run before each endpoint of the table they are given to.
    """
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        raise HTTPException(status_code=405, detail="This table is read-only.")


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
                AdminSearchLog.q,
                AdminSearchLog.query,
                AdminSearchLog.result_count,
                AdminSearchLog.duration_ms,
            ],
            visible_filters=[
                AdminSearchLog.created_at,
                AdminSearchLog.author,
                AdminSearchLog.category,
                AdminSearchLog.q,
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
            StaffUser,
            visible_columns=[
                StaffUser.username,
                StaffUser.email,
                StaffUser.active,
                StaffUser.admin,
                StaffUser.superuser,
                StaffUser.last_login,
            ],
            visible_filters=[StaffUser.username, StaffUser.email, StaffUser.active],
            order_by=_ordered(StaffUser.username),
            link_column=StaffUser.username,
            menu_group=STAFF,
        ),
    ]
