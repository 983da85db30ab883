"""Pages of books: the statements behind ``GET /books`` and the book reads.

A page is one statement: the inner query picks the ids of one page using an
index that yields rows already in (title, id) order, so it reads about as
many index entries as the page holds; the outer query fetches those books
with their author and their categories (as JSON). docs/performance.md has
the plans.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from piccolo.querystring import QueryString

from bookstore.catalog.filters import BookFilters, Criteria, resolve
from bookstore.catalog.statements import (
    Row,
    after_key,
    all_of,
    literal_limit,
    rows_to_fetch,
)
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.errors import NotFound
from bookstore.pagination import SortKey
from bookstore.tables import Book

_BOOKS_WITH_DETAILS = """
SELECT {} b.id, b.title, b.isbn, b.published_year, b.price, b.description,
       b.created_at, b.updated_at, b.author_id, a.name AS author_name,
       (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'slug', c.slug)
                                 ORDER BY c.name, c.id), '[]')
          FROM book_category bc JOIN categories c ON c.id = bc.category_id
         WHERE bc.book_id = b.id)::text AS categories
FROM ({}) AS page
JOIN books b ON b.id = page.id
JOIN authors a ON a.id = b.author_id
ORDER BY {}
"""


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
        conditions.append(after_key("b.title, b.id", after))
    return QueryString(
        f"SELECT b.id FROM books b WHERE {{}} ORDER BY b.title, b.id {literal_limit(limit)}",
        all_of(conditions),
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
        after_cursor = QueryString("TRUE") if after is None else after_key("title, id", after)
        scans = [
            QueryString(
                "(SELECT id, title FROM (SELECT bc.book_id AS id, bc.book_title AS title"
                " FROM unnest({}::integer[]) AS author (id) CROSS JOIN LATERAL"
                " (SELECT * FROM book_category bc WHERE bc.category_id = {}"
                " AND bc.book_author_id = author.id OFFSET 0) AS bc"
                " WHERE {} OFFSET 0) AS found"
                f" WHERE {{}} ORDER BY title, id {literal_limit(limit)})",
                criteria.author_ids,
                category_id,
                all_of(conditions),
                after_cursor,
            )
            for category_id in driving
        ]
    else:
        if after is not None:
            conditions.append(after_key("bc.book_title, bc.book_id", after))
        scans = [
            QueryString(
                "(SELECT bc.book_id AS id, bc.book_title AS title FROM book_category bc"
                " WHERE bc.category_id = {} AND {} ORDER BY bc.book_title, bc.book_id"
                f" {literal_limit(limit)})",
                category_id,
                all_of(conditions),
            )
            for category_id in driving
        ]
    # Two categories (one named by slug, one by name): two scans, merged.
    merged = QueryString(" UNION ".join("{}" for _ in scans), *scans)
    return QueryString(
        f"SELECT id FROM ({{}}) AS page ORDER BY title, id {literal_limit(limit)}", merged
    )


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


async def books_with_details(
    db: DatabaseConnection, page: QueryString, *, scored: bool = False, by_score: bool = False
) -> list[Row]:
    """The books whose ids ``page`` selects, with author and categories, in title order.

    ``scored``: ``page`` also selects a relevance ``score``, which each book
    carries; ``by_score``: the books come best first, then by id.
    """
    statement = QueryString(
        _BOOKS_WITH_DETAILS,
        QueryString("page.score," if scored else ""),
        page,
        QueryString("page.score DESC, b.id" if by_score else "b.title, b.id"),
    )
    rows = await fetch(db, statement)
    if not scored:
        return [_book_from_row(row) for row in rows]
    return [{**_book_from_row(row), "score": row["score"]} for row in rows]


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
        page = page_of_books(criteria, after, rows_to_fetch(limit + 1))
        books = (await books_with_details(db, page))[: limit + 1]
    next_key = None
    if len(books) > limit:
        books = books[:limit]
        next_key = SortKey(books[-1]["title"], books[-1]["id"])
    return books, next_key


async def get_book(book_id: int) -> Row:
    async with connection(Book._meta.db) as db:
        books = await books_with_details(db, QueryString("SELECT {}::integer AS id", book_id))
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


async def count_books() -> int:
    return await Book.count()
