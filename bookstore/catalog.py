"""The data layer: every query the service runs, async, with no HTTP in it.

Functions take and return plain values and dicts shaped like the API's
responses; failures are raised as ``bookstore.errors`` classes. Writes use
Piccolo's query builder; the book listings are SQL written by hand (as
QueryString) because their shape is what makes them fast: see
docs/performance.md.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from asyncpg.exceptions import (
    ForeignKeyViolationError,
    RestrictViolationError,
    UniqueViolationError,
)
from piccolo.columns.combination import WhereRaw
from piccolo.query import OrderByRaw
from piccolo.querystring import QueryString

from bookstore.database import DatabaseConnection, connection, fetch, transaction
from bookstore.errors import Conflict, InvalidReference, NotFound, PreconditionFailed
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

    def terms(self) -> tuple[str | int | None, ...]:
        return (self.author, self.category, self.author_id, self.category_id)

    def is_search(self) -> bool:
        return any(value is not None for value in self.terms())


# -- reading books -------------------------------------------------------------
#
# A page is one statement: the inner query picks the ids of one page using an
# index that yields rows already in (title, id) order, so it reads about as
# many index entries as the page holds; the outer query fetches those books
# with their author and their categories (as JSON).

_BOOKS_WITH_DETAILS = """
SELECT b.id, b.title, b.isbn, b.published_year, b.price, b.description,
       b.created_at, b.updated_at, b.author_id, a.name AS author_name,
       (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'slug', c.slug)
                                 ORDER BY c.name, c.id), '[]')
          FROM book_category bc JOIN categories c ON c.id = bc.category_id
         WHERE bc.book_id = b.id)::text AS categories
FROM ({}) AS page
JOIN books b ON b.id = page.id
JOIN authors a ON a.id = b.author_id
ORDER BY b.title, b.id
"""

# Up to this many authors matching ?author=, a page gathers their books
# through books (author_id, title, id) and sorts them; beyond it, walking the
# title index until a page is full is cheaper (measured: docs/performance.md).
NARROW_AUTHOR_MATCH = 1000


@dataclass(frozen=True)
class Criteria:
    """What a book must satisfy, with the free-text terms resolved to ids.

    ``author_ids``: the book's author is one of these (a short list).
    ``author_pattern``: the author's name matches (too many authors to list).
    ``category_sets``: for each set, the book is in one of its categories.
    """

    author_ids: list[int] | None = None
    author_pattern: str | None = None
    category_sets: tuple[list[int], ...] = ()

    def matches_nothing(self) -> bool:
        return self.author_ids == [] or any(not ids for ids in self.category_sets)


_TRIGRAM = re.compile(r"\w{3}")


def _author_lookup(fragment: str) -> QueryString:
    """The ids of up to NARROW_AUTHOR_MATCH + 1 authors whose name contains ``fragment``.

    The trigram index only helps a fragment holding a trigram (three word
    characters in a row); for "30" or "e" it would be read whole, 15-20 ms
    at 100,000 authors, and a generic plan cannot tell the two apart. Such
    short fragments match many names, so a scan of the table (the index
    hidden by ``|| ''``) finds the first thousand quickly: 0.4-3.5 ms.
    """
    column = "name" if _TRIGRAM.search(fragment) else "(name || '')"
    return QueryString(
        f"ARRAY(SELECT id FROM authors WHERE {column} ILIKE {{}}"
        f" {_limit(NARROW_AUTHOR_MATCH + 1)}) AS author_ids",
        contains_pattern(fragment),
    )


class BroadFragments:
    """Author fragments lately found to match more than NARROW_AUTHOR_MATCH authors.

    Such a fragment is searched by walking titles (``Criteria.author_pattern``),
    so counting its authors again is wasted: for "30" or "e", which no
    trigram index serves, the count was 2-5 ms, half the cost of the search.
    Only the choice of plan is remembered, never a result: a fragment that
    has since become narrow still gets the right books, by the slower walk,
    until it expires.
    """

    def __init__(self, capacity: int = 10_000, ttl_s: float = 300.0) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._seen: dict[str, float] = {}  # fragment -> when it was found broad

    def __contains__(self, fragment: object) -> bool:
        if not isinstance(fragment, str):
            return False
        seen = self._seen.get(fragment.lower())
        return seen is not None and time.monotonic() - seen < self.ttl_s

    def add(self, fragment: str) -> None:
        key = fragment.lower()
        self._seen.pop(key, None)
        if len(self._seen) >= self.capacity:
            del self._seen[next(iter(self._seen))]  # the oldest
        self._seen[key] = time.monotonic()

    def clear(self) -> None:
        self._seen.clear()


broad_fragments = BroadFragments()


async def resolve(filters: BookFilters, db: DatabaseConnection) -> Criteria:
    """Turn ``filters`` into ``Criteria``, looking the terms up in one statement on ``db``.

    ?author= is matched against authors.name (see ``_author_lookup``), unless
    it is known to match too many authors to list (``broad_fragments``);
    ?category= is a slug or a name, whatever the case (two different
    categories may match, one by each).
    """
    lookups: list[QueryString] = []
    look_up_author = filters.author is not None and filters.author not in broad_fragments
    if look_up_author:
        lookups.append(_author_lookup(filters.author))
    if filters.category is not None:
        lookups.append(
            QueryString(
                "ARRAY(SELECT id FROM categories, lower({}::text) AS term"
                " WHERE slug = term OR lower(name) = term) AS category_ids",
                filters.category,
            )
        )
    found: Mapping[str, Any] = {}
    if lookups:
        (found,) = await fetch(
            db, QueryString("SELECT {}", QueryString(", ".join("{}" for _ in lookups), *lookups))
        )

    author_ids: list[int] | None = None
    author_pattern = None
    if filters.author is not None:
        if look_up_author and len(found["author_ids"]) <= NARROW_AUTHOR_MATCH:
            author_ids = found["author_ids"]
        else:
            if look_up_author:
                broad_fragments.add(filters.author)
            author_pattern = contains_pattern(filters.author)
    if filters.author_id is not None:
        if author_ids is None or filters.author_id in author_ids:
            author_ids = [filters.author_id]
        else:
            author_ids = []  # that author's name does not match ?author=
    category_sets = []
    if filters.category_id is not None:
        category_sets.append([filters.category_id])
    if filters.category is not None:
        category_sets.append(found["category_ids"])
    return Criteria(author_ids, author_pattern, tuple(category_sets))


def _limit(rows: int) -> str:
    """A LIMIT written into the statement, not passed as a parameter.

    Statements are planned once for all parameters (``force_generic_plan``),
    and for ``LIMIT $1`` the planner guesses a tenth of the table: it then
    prefers hashing all of books to probing the few ids of a page. Limits
    are small validated integers, so each value is its own statement.
    """
    if not 1 <= rows <= NARROW_AUTHOR_MATCH + 1:
        raise ValueError(f"unexpected LIMIT {rows!r}")
    return f"LIMIT {int(rows)}"


# Page sizes fetched from the database: any other size is rounded up to one of
# these. Each LIMIT is its own statement, prepared and planned per connection;
# clients asking for every size from 1 to 100 would otherwise churn asyncpg's
# cache of 100 statements per connection, and re-plan on every request.
_FETCH_SIZES = (11, 21, 51, 101)


def _rows_to_fetch(wanted: int) -> int:
    return next((size for size in _FETCH_SIZES if size >= wanted), wanted)


def _after(columns: str, key: SortKey) -> QueryString:
    """Rows after ``key`` in the order of ``columns`` (title, then id): the keyset cursor."""
    return QueryString(f"({columns}) > ({{}}, {{}})", key.text, key.id)


def _and(conditions: list[QueryString]) -> QueryString:
    if not conditions:
        return QueryString("TRUE")
    return QueryString(" AND ".join("{}" for _ in conditions), *conditions)


def _author_is(column: str, author_ids: list[int]) -> QueryString:
    """``column`` is one of ``author_ids``.

    One author, the common case, is written as an equality: the plan, made
    once for all parameters, then reads that author's books from the index in
    title order and stops after a page. ``= ANY`` of an array that could hold
    several authors has to read all their books and sort them (3,400 rows for
    the most prolific author of 100,000 books, ten times that at a million).
    """
    if len(author_ids) == 1:
        return QueryString(f"{column} = {{}}", author_ids[0])
    return QueryString(f"{column} = ANY({{}}::integer[])", author_ids)


def _in_categories(book_id: str, category_ids: list[int]) -> QueryString:
    return QueryString(
        f"EXISTS (SELECT 1 FROM book_category x WHERE x.book_id = {book_id}"
        " AND x.category_id = ANY({}::integer[]))",
        category_ids,
    )


def page_of_books(criteria: Criteria, after: SortKey | None, limit: int) -> QueryString:
    """The ids of one page, by the index that yields them in (title, id) order.

    - A category: book_category (category_id, book_title, book_id) is a range
      scan in title order, whatever the category's size; with listed
      authors, book_category (category_id, book_author_id, ...) finds their
      books in it directly.
    - Listed authors: their books through books (author_id, title, id),
      sorted; a few hundred rows at most.
    - Otherwise: a walk over books (title, id) INCLUDE (author_id).
    """
    if criteria.category_sets:
        return _page_from_category(criteria, after, limit)
    return _page_from_books(criteria, after, limit)


def _page_from_books(criteria: Criteria, after: SortKey | None, limit: int) -> QueryString:
    conditions = []
    if criteria.author_ids is not None:
        conditions.append(_author_is("b.author_id", criteria.author_ids))
    if criteria.author_pattern is not None:
        # "+ 0" hides the author index: for a broad match the walk in title
        # order is right, whatever a generic plan would estimate.
        conditions.append(
            QueryString(
                "(b.author_id + 0) IN (SELECT id FROM authors WHERE name ILIKE {})",
                criteria.author_pattern,
            )
        )
    if after is not None:
        conditions.append(_after("b.title, b.id", after))
    return QueryString(
        f"SELECT b.id FROM books b WHERE {{}} ORDER BY b.title, b.id {_limit(limit)}",
        _and(conditions),
    )


def _page_from_category(criteria: Criteria, after: SortKey | None, limit: int) -> QueryString:
    driving, *others = criteria.category_sets
    conditions = [_in_categories("bc.book_id", ids) for ids in others]
    if criteria.author_pattern is not None:
        # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a join over
        # the whole category: each row, in title order, is checked until the
        # page is full (the authors are many, so that is soon).
        conditions.append(
            QueryString(
                "EXISTS (SELECT 1 FROM authors a"
                " WHERE a.id = bc.book_author_id AND a.name ILIKE {} OFFSET 0)",
                criteria.author_pattern,
            )
        )
    if criteria.author_ids is not None and len(criteria.author_ids) == 1:
        # One author's books in the category come from the index in title order.
        conditions.append(_author_is("bc.book_author_id", criteria.author_ids))
    if criteria.author_ids is not None and len(criteria.author_ids) > 1:
        # The authors' books in the category: one index descent per author
        # (LATERAL, and OFFSET 0 to keep it a loop: book_category
        # (category_id, book_author_id, ...) searched on both columns), then
        # sorted: few rows. Written as "= ANY(authors)", or as a plain join,
        # the generic plans of PostgreSQL 15 read the whole category instead
        # (20,000-32,000 rows at 100,000 books), and given the cursor so did
        # 18's. The outer OFFSET 0 fences the search off from the ordering and
        # the cursor for the same reason.
        after_cursor = QueryString("TRUE") if after is None else _after("title, id", after)
        scans = [
            QueryString(
                "(SELECT id, title FROM (SELECT bc.book_id AS id, bc.book_title AS title"
                " FROM unnest({}::integer[]) AS author (id) CROSS JOIN LATERAL"
                " (SELECT * FROM book_category bc WHERE bc.category_id = {}"
                " AND bc.book_author_id = author.id OFFSET 0) AS bc"
                " WHERE {} OFFSET 0) AS found"
                f" WHERE {{}} ORDER BY title, id {_limit(limit)})",
                criteria.author_ids,
                category_id,
                _and(conditions),
                after_cursor,
            )
            for category_id in driving
        ]
    else:
        if after is not None:
            conditions.append(_after("bc.book_title, bc.book_id", after))
        scans = [
            QueryString(
                "(SELECT bc.book_id AS id, bc.book_title AS title FROM book_category bc"
                " WHERE bc.category_id = {} AND {} ORDER BY bc.book_title, bc.book_id"
                f" {_limit(limit)})",
                category_id,
                _and(conditions),
            )
            for category_id in driving
        ]
    # Two categories (one named by slug, one by name): two scans, merged.
    merged = QueryString(" UNION ".join("{}" for _ in scans), *scans)
    return QueryString(f"SELECT id FROM ({{}}) AS page ORDER BY title, id {_limit(limit)}", merged)


def _book_from_row(row: Mapping[str, Any]) -> Row:
    price = row["price"]
    return {
        "id": row["id"],
        "title": row["title"],
        "isbn": row["isbn"],
        "published_year": row["published_year"],
        "price": None if price is None else f"{price:.2f}",
        "description": row["description"],
        "author": {"id": row["author_id"], "name": row["author_name"]},
        "categories": orjson.loads(row["categories"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def _books_with_details(db: DatabaseConnection, page: QueryString) -> list[Row]:
    rows = await fetch(db, QueryString(_BOOKS_WITH_DETAILS, page))
    return [_book_from_row(row) for row in rows]


async def list_books(
    filters: BookFilters, *, limit: int, after: SortKey | None = None
) -> tuple[list[Row], SortKey | None]:
    """One page in (title, id) order, and the key to continue after, if any.

    Keyset pagination: every page costs the same, the thousandth as much as
    the first. One statement per page, plus one to look up ?author= and
    ?category= terms when given.
    """
    async with connection(Book._meta.db) as db:
        criteria = await resolve(filters, db)
        if criteria.matches_nothing():
            return [], None
        # One extra row tells whether a next page exists.
        page = page_of_books(criteria, after, _rows_to_fetch(limit + 1))
        books = (await _books_with_details(db, page))[: limit + 1]
    next_key = None
    if len(books) > limit:
        books = books[:limit]
        next_key = SortKey(books[-1]["title"], books[-1]["id"])
    return books, next_key


async def get_book(book_id: int) -> Row:
    async with connection(Book._meta.db) as db:
        books = await _books_with_details(db, QueryString("SELECT {}::integer AS id", book_id))
    if not books:
        raise NotFound(f"book {book_id} not found")
    return books[0]


def book_version(book: Row) -> str:
    """A digest of everything a client sees of ``book`` (as ``get_book`` returns it).

    The API sends it as the book's ETag. It covers the whole representation,
    not only the book's id and ``updated_at``: renaming the book's author or
    one of its categories changes what ``GET /books/{id}`` shows without
    touching the book's row, and a cached copy must not keep the old name.
    ``updated_at`` is part of it and moves on every write of the book, so two
    writes never leave the same version.
    """
    encoded = orjson.dumps(book, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


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


# -- authors -----------------------------------------------------------------

_AUTHOR_COLUMNS = (Author.id, Author.name, Author.bio)


async def list_authors(
    name: str | None, *, limit: int, after: SortKey | None = None
) -> tuple[list[Row], SortKey | None]:
    """Authors in (name, id) order, their names containing ``name`` if given.

    The statement is planned once for every fragment (see
    ``database.pool_options``), so its text picks the plan: a fragment with
    a trigram is found through the trigram index and sorted (ordering by
    ``name || ''`` hides the name index, which a generic plan would walk
    testing every name: 45 ms at 100,000 authors for a name that matches
    once); one without, which no index serves, walks names in order.
    """
    query = Author.select(*_AUTHOR_COLUMNS).limit(limit + 1)
    if name is not None:
        query = query.where(Author.name.ilike(contains_pattern(name)))
    if name is not None and _TRIGRAM.search(name):
        query = query.order_by(OrderByRaw("authors.name || ''"), Author.id)
    else:
        query = query.order_by(Author.name, Author.id)
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
