"""Categories and their writes."""

from __future__ import annotations

from asyncpg.exceptions import (
    ForeignKeyViolationError,
    RestrictViolationError,
    UniqueViolationError,
)

from bookstore.catalog.statements import Row
from bookstore.errors import Conflict, NotFound
from bookstore.tables import BookCategory, Category

_CATEGORY_COLUMNS = (Category.id, Category.name, Category.slug, Category.description)


def _category_write_error(error: UniqueViolationError, fields: Row) -> Conflict:
    if error.constraint_name == "categories_slug_key":
        return Conflict(f"a category with slug {fields.get('slug')!r} already exists")
    return Conflict(f"a category named {fields.get('name')!r} already exists")


async def list_categories() -> list[Row]:
    return await Category.select(*_CATEGORY_COLUMNS).order_by(Category.name)


async def get_category(category_id: int) -> Row:
    rows = await Category.select(*_CATEGORY_COLUMNS).where(Category.id == category_id)
    if not rows:
        raise NotFound(f"category {category_id} not found")
    return rows[0]


async def category_exists(category_id: int) -> bool:
    return await Category.exists().where(Category.id == category_id)


async def create_category(fields: Row) -> Row:
    try:
        (row,) = await Category.insert(Category(**fields)).returning(*_CATEGORY_COLUMNS)
    except UniqueViolationError as error:
        raise _category_write_error(error, fields) from error
    return row


async def update_category(category_id: int, fields: Row) -> Row:
    if not fields:
        return await get_category(category_id)
    changes = {getattr(Category, name): value for name, value in fields.items()}
    try:
        rows = (
            await Category.update(changes)
            .where(Category.id == category_id)
            .returning(*_CATEGORY_COLUMNS)
        )
    except UniqueViolationError as error:
        raise _category_write_error(error, fields) from error
    if not rows:
        raise NotFound(f"category {category_id} not found")
    return rows[0]


async def delete_category(category_id: int) -> None:
    try:
        deleted = await Category.delete().where(Category.id == category_id).returning(Category.id)
    except (RestrictViolationError, ForeignKeyViolationError):
        count = await BookCategory.count().where(BookCategory.category == category_id)
        raise Conflict(
            f"category {category_id} still holds {count} book(s); remove them from it first"
        ) from None
    if not deleted:
        raise NotFound(f"category {category_id} not found")
