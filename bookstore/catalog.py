"""The data layer: every query the service runs, async, with no HTTP in it.

Functions take and return plain values and dicts shaped like the API's
responses; failures are raised as ``bookstore.errors`` classes. A page of
books costs two queries whatever its size: one for the books with their
authors, one for all their categories.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from asyncpg.exceptions import (
    ForeignKeyViolationError,
    RestrictViolationError,
    UniqueViolationError,
)
from piccolo.columns.combination import WhereRaw
from piccolo.querystring import QueryString

from bookstore.errors import Conflict, InvalidReference, NotFound
from bookstore.pagination import SortKey
from bookstore.tables import Author, Book, BookCategory, Category, SearchLog

Row = dict[str, Any]


def contains_pattern(fragment: str) -> str:
    """An ILIKE pattern matching ``fragment`` literally anywhere in the text.

    ``%``, ``_`` and ``\\`` typed by a user are data, not wildcards.
    """
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class BookFilters:
    """The search terms of ``GET /books``; all given ones must hold (AND)."""

    author: str | None = None
    category: str | None = None
    author_id: int | None = None
    category_id: int | None = None

    def is_search(self) -> bool:
        return any(value is not None for value in vars(self).values())

    def where(self) -> list[Any]:
        conditions: list[Any] = []
        if self.author_id is not None:
            conditions.append(Book.author == self.author_id)
        if self.author is not None:
            # Served by the trigram index on authors.name.
            matching_authors = Author.select(Author.id).where(
                Author.name.ilike(contains_pattern(self.author))
            )
            conditions.append(Book.author.is_in(matching_authors))
        if self.category_id is not None:
            conditions.append(
                Book.id.is_in(_books_in_categories(BookCategory.category == self.category_id))
            )
        if self.category is not None:
            # Slugs are stored lower-case; names match case-insensitively
            # through the unique index on lower(name).
            named = Category.select(Category.id).where(
                (Category.slug == self.category.lower())
                | WhereRaw("lower(categories.name) = lower({})", self.category)
            )
            conditions.append(
                Book.id.is_in(_books_in_categories(BookCategory.category.is_in(named)))
            )
        return conditions


def _books_in_categories(condition: Any) -> Any:
    # Served by book_category (category_id, book_id): an index-only scan.
    return BookCategory.select(BookCategory.book).where(condition)


# -- books -------------------------------------------------------------------

_BOOK_COLUMNS = (
    Book.id,
    Book.title,
    Book.isbn,
    Book.published_year,
    Book.price,
    Book.description,
    Book.created_at,
    Book.updated_at,
    Book.author.as_alias("author_id"),
    Book.author.name.as_alias("author_name"),
)


def _price_text(price: Decimal | None) -> str | None:
    return None if price is None else f"{price:.2f}"


async def _categories_by_book(book_ids: list[int]) -> dict[int, list[Row]]:
    if not book_ids:
        return {}
    rows = await (
        BookCategory.select(
            BookCategory.book.as_alias("book_id"),
            BookCategory.category.as_alias("id"),
            BookCategory.category.name.as_alias("name"),
            BookCategory.category.slug.as_alias("slug"),
        )
        .where(BookCategory.book.is_in(book_ids))
        .order_by(BookCategory.category.name, BookCategory.category.id)
    )
    by_book: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_book[row.pop("book_id")].append(row)
    return by_book


async def _with_categories(rows: list[Row]) -> list[Row]:
    categories = await _categories_by_book([row["id"] for row in rows])
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "isbn": row["isbn"],
            "published_year": row["published_year"],
            "price": _price_text(row["price"]),
            "description": row["description"],
            "author": {"id": row["author_id"], "name": row["author_name"]},
            "categories": categories.get(row["id"], []),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    ]


async def list_books(
    filters: BookFilters, *, limit: int, after: SortKey | None = None
) -> tuple[list[Row], SortKey | None]:
    """One page in (title, id) order, and the key to continue after, if any.

    Keyset pagination on books (title, id): every page costs the same, the
    thousandth as much as the first.
    """
    query = (
        Book.select(*_BOOK_COLUMNS)
        .order_by(Book.title, Book.id)
        .limit(limit + 1)  # one extra row tells whether a next page exists
    )
    for condition in filters.where():
        query = query.where(condition)
    if after is not None:
        query = query.where(WhereRaw("(books.title, books.id) > ({}, {})", after.text, after.id))
    rows = await query
    next_key = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_key = SortKey(rows[-1]["title"], rows[-1]["id"])
    return await _with_categories(rows), next_key


async def get_book(book_id: int) -> Row:
    rows = await Book.select(*_BOOK_COLUMNS).where(Book.id == book_id)
    if not rows:
        raise NotFound(f"book {book_id} not found")
    (book,) = await _with_categories(rows)
    return book


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
        async with Book._meta.db.transaction():
            await _check_categories_exist(category_ids)
            (inserted,) = await Book.insert(Book(**_book_columns(fields))).returning(Book.id)
            book_id = inserted["id"]
            if category_ids:
                await BookCategory.insert(
                    *(BookCategory(book=book_id, category=c) for c in category_ids)
                )
    except (UniqueViolationError, ForeignKeyViolationError) as error:
        raise _book_write_error(error, fields) from error
    return await get_book(book_id)


async def update_book(book_id: int, fields: Row, category_ids: list[int] | None) -> Row:
    """Change the given fields; ``category_ids``, when given, replaces the set."""
    try:
        async with Book._meta.db.transaction():
            changes = {getattr(Book, name): value for name, value in _book_columns(fields).items()}
            changes[Book.updated_at] = QueryString("CURRENT_TIMESTAMP")
            updated = await Book.update(changes).where(Book.id == book_id).returning(Book.id)
            if not updated:
                raise NotFound(f"book {book_id} not found")
            if category_ids is not None:
                await _check_categories_exist(category_ids)
                await _replace_categories(book_id, category_ids)
    except (UniqueViolationError, ForeignKeyViolationError) as error:
        raise _book_write_error(error, fields) from error
    return await get_book(book_id)


async def _replace_categories(book_id: int, category_ids: list[int]) -> None:
    stale = BookCategory.delete().where(BookCategory.book == book_id)
    if category_ids:
        stale = stale.where(BookCategory.category.not_in(category_ids))
    await stale
    if category_ids:
        await BookCategory.insert(
            *(BookCategory(book=book_id, category=c) for c in category_ids)
        ).on_conflict(action="DO NOTHING")


async def delete_book(book_id: int) -> None:
    deleted = await Book.delete().where(Book.id == book_id).returning(Book.id)
    if not deleted:
        raise NotFound(f"book {book_id} not found")


# -- authors -----------------------------------------------------------------

_AUTHOR_COLUMNS = (Author.id, Author.name, Author.bio)


async def list_authors(
    name: str | None, *, limit: int, after: SortKey | None = None
) -> tuple[list[Row], SortKey | None]:
    query = Author.select(*_AUTHOR_COLUMNS).order_by(Author.name, Author.id).limit(limit + 1)
    if name is not None:
        query = query.where(Author.name.ilike(contains_pattern(name)))
    if after is not None:
        query = query.where(
            WhereRaw("(authors.name, authors.id) > ({}, {})", after.text, after.id)
        )
    rows = await query
    next_key = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_key = SortKey(rows[-1]["name"], rows[-1]["id"])
    return rows, next_key


async def get_author(author_id: int) -> Row:
    rows = await Author.select(*_AUTHOR_COLUMNS).where(Author.id == author_id)
    if not rows:
        raise NotFound(f"author {author_id} not found")
    return rows[0]


async def author_exists(author_id: int) -> bool:
    return await Author.exists().where(Author.id == author_id)


async def create_author(fields: Row) -> Row:
    (row,) = await Author.insert(Author(**fields)).returning(*_AUTHOR_COLUMNS)
    return row


async def update_author(author_id: int, fields: Row) -> Row:
    if not fields:
        return await get_author(author_id)
    changes = {getattr(Author, name): value for name, value in fields.items()}
    rows = await Author.update(changes).where(Author.id == author_id).returning(*_AUTHOR_COLUMNS)
    if not rows:
        raise NotFound(f"author {author_id} not found")
    return rows[0]


async def delete_author(author_id: int) -> None:
    try:
        deleted = await Author.delete().where(Author.id == author_id).returning(Author.id)
    except (RestrictViolationError, ForeignKeyViolationError):
        count = await Book.count().where(Book.author == author_id)
        raise Conflict(
            f"author {author_id} still has {count} book(s); delete or reassign them first"
        ) from None
    if not deleted:
        raise NotFound(f"author {author_id} not found")


# -- categories --------------------------------------------------------------

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


# -- search logs -------------------------------------------------------------


async def list_search_logs(limit: int) -> list[Row]:
    return await (
        SearchLog.select()
        .order_by(SearchLog.created_at, ascending=False)
        .order_by(SearchLog.id, ascending=False)
        .limit(limit)
    )


async def count_books() -> int:
    return await Book.count()


async def ping() -> None:
    """One round trip to the database, through the pool."""
    await Author.raw("SELECT 1")
