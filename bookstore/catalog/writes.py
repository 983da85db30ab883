"""Writing books: create, change and delete, each in one transaction.

Writes use Piccolo's query builder. A write reads the book back inside its
transaction, so the version (ETag) it answers is the one it made.
"""

from __future__ import annotations

from collections.abc import Collection

from asyncpg.exceptions import ForeignKeyViolationError, UniqueViolationError
from piccolo.querystring import QueryString

from bookstore.catalog.details import book_version, get_book
from bookstore.catalog.statements import Row
from bookstore.database import transaction
from bookstore.errors import Conflict, InvalidReference, NotFound, PreconditionFailed
from bookstore.tables import Book, BookCategory, Category


async def _lock_book_at_version(book_id: int, expected_versions: Collection[str]) -> None:
    """Lock the book's row for the current transaction, if it is at one of ``expected_versions``.

    Raises NotFound, or PreconditionFailed when the book has changed. The
    lock makes check and write one step: a concurrent writer with the same
    expectation waits here, then sees the version this transaction leaves.
    Two statements on purpose: under READ COMMITTED a statement that waited
    for a row lock still reads other rows (author, categories, the joined
    book) as of its own start; the second statement reads what the previous
    holder of the lock committed.
    """
    # The catalog version first, as every write statement takes it before
    # its rows (migration 2026-11-29T11:10): holding the book while waiting
    # for the version could deadlock with a rename, which holds the version
    # and waits for its books.
    await Book.raw("SELECT version FROM catalog_version FOR UPDATE")
    if not await Book.raw("SELECT id FROM books WHERE id = {} FOR UPDATE", book_id):
        raise NotFound(f"book {book_id} not found")
    if book_version(await get_book(book_id)) not in expected_versions:
        raise PreconditionFailed(
            f"book {book_id} has changed since that version (ETag); fetch it again"
        )


async def _check_categories_exist(category_ids: list[int]) -> None:
    if not category_ids:
        return
    found = (
        await Category.select(Category.id)
        .where(Category.id.is_in(category_ids))
        .output(as_list=True)
    )
    missing = sorted(set(category_ids) - set(found))
    if missing:
        raise InvalidReference(f"category_ids: no category with id {', '.join(map(str, missing))}")


def _book_write_error(error: Exception, fields: Row) -> Exception:
    if isinstance(error, UniqueViolationError) and error.constraint_name == "books_isbn_key":
        return Conflict(f"a book with ISBN {fields.get('isbn')} already exists")
    if isinstance(error, ForeignKeyViolationError) and "author_id" in (error.detail or ""):
        return InvalidReference(f"author_id: no author with id {fields.get('author_id')}")
    if isinstance(error, ForeignKeyViolationError) and "category_id" in (error.detail or ""):
        return InvalidReference("category_ids: a category was deleted meanwhile; retry")
    return error


def _book_columns(fields: Row) -> Row:
    """API field names to Piccolo column names (author_id -> author)."""
    columns = dict(fields)
    if "author_id" in columns:
        columns["author"] = columns.pop("author_id")
    return columns


async def create_book(fields: Row, category_ids: list[int]) -> Row:
    """Insert a book and its category links in one transaction."""
    try:
        async with transaction(Book._meta.db):
            await _check_categories_exist(category_ids)
            (inserted,) = await Book.insert(Book(**_book_columns(fields))).returning(Book.id)
            book_id = inserted["id"]
            if category_ids:
                await BookCategory.insert(
                    *(BookCategory(book=book_id, category=c) for c in category_ids)
                )
            return await get_book(book_id)  # as update_book: this write's version
    except (UniqueViolationError, ForeignKeyViolationError) as error:
        raise _book_write_error(error, fields) from error


async def update_book(
    book_id: int,
    fields: Row,
    category_ids: list[int] | None,
    *,
    expected_versions: Collection[str] | None = None,
) -> Row:
    """Change the given fields; ``category_ids``, when given, replaces the set.

    With ``expected_versions`` (see ``book_version``), the book is changed
    only if it is still at one of them, else PreconditionFailed: a client
    never overwrites a change it has not seen.
    """
    try:
        async with transaction(Book._meta.db):
            if expected_versions is not None:
                await _lock_book_at_version(book_id, expected_versions)
            changes = {getattr(Book, name): value for name, value in _book_columns(fields).items()}
            # Strictly later than the stored value, so every write is a new
            # version: clock_timestamp() is this statement's time (not the
            # transaction's start, which may precede the write it waited
            # for), and GREATEST holds within one microsecond or when the
            # clock steps back.
            changes[Book.updated_at] = QueryString(
                "GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')"
            )
            updated = await Book.update(changes).where(Book.id == book_id).returning(Book.id)
            if not updated:
                raise NotFound(f"book {book_id} not found")
            if category_ids is not None:
                await _check_categories_exist(category_ids)
                await _replace_categories(book_id, category_ids)
            # Read back in the transaction: the book as this write left it
            # (its version is the one this write made, whatever commits
            # next), and no second wait for a pooled connection.
            return await get_book(book_id)
    except (UniqueViolationError, ForeignKeyViolationError) as error:
        raise _book_write_error(error, fields) from error


async def _replace_categories(book_id: int, category_ids: list[int]) -> None:
    stale = BookCategory.delete().where(BookCategory.book == book_id)
    if category_ids:
        stale = stale.where(BookCategory.category.not_in(category_ids))
    await stale
    if category_ids:
        await BookCategory.insert(
            *(BookCategory(book=book_id, category=c) for c in category_ids)
        ).on_conflict(action="DO NOTHING")


async def delete_book(book_id: int, *, expected_versions: Collection[str] | None = None) -> None:
    """Delete the book; with ``expected_versions``, only if it is still at one of them."""
    async with transaction(Book._meta.db):
        if expected_versions is not None:
            await _lock_book_at_version(book_id, expected_versions)
        deleted = await Book.delete().where(Book.id == book_id).returning(Book.id)
    if not deleted:
        raise NotFound(f"book {book_id} not found")
