"""A book as the API shows it: its row, its author and its categories, in one statement.

Every read of books ends here: a page's ids (``pages``, ``search``) are
joined to the books, their author and their categories, so that a page of
any size costs one round trip and no query per book. A listing's or a
search's page reads its books' category ids and shows them by the names
kept for the catalog version the statement read
(``books_with_details_and_version``); one book, an author search's page,
and a page whose version moved before its names were read, join the
categories and build them as JSON.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from piccolo.querystring import QueryString

from bookstore.catalog.category_names import Shown, categories_at
from bookstore.catalog.sorts import (
    TITLE,
    SortOrder,
)
from bookstore.catalog.statements import (
    Row,
)
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.errors import NotFound
from bookstore.query_text import Compiled, Sql, compile_postgres
from bookstore.tables import Book

# A page's books with their author, in one statement whose slots are the
# page, the columns before the book's (score, catalog version), the book's
# categories (a column and what it joins) and the order.
_BOOKS_WITH_DETAILS = """
WITH page AS MATERIALIZED ({})
SELECT {} b.id, b.title, b.isbn, b.published_year, b.price::text AS price, b.description,
       b.created_at, b.updated_at, b.author_id, a.name AS author_name, {}
FROM page
JOIN books b ON b.id = page.id
JOIN authors a ON a.id = b.author_id{}
ORDER BY {}
"""

# The categories of the page's books joined for the whole page at once, as
# JSON. A subquery per book was planned, with PostgreSQL's default
# random_page_cost (4; the embedded server sets 1.1), as a hash of all of
# ``categories`` per book: the table is too small for its index to look
# cheaper in a subquery run once. 21 hashes of 300 rows were two thirds of
# PostgreSQL's CPU for a page of 20 on PostgreSQL 15 (docs/performance.md).
_CATEGORIES_JOINED = (
    Sql("coalesce(k.categories, '[]')::text AS categories"),
    Sql("""
LEFT JOIN (SELECT bc.book_id,
                  json_agg(json_build_object('id', c.id, 'name', c.name, 'slug', c.slug)
                           ORDER BY c.name, c.id) AS categories
             FROM book_category bc JOIN categories c ON c.id = bc.category_id
            WHERE bc.book_id IN (SELECT id FROM page)
            GROUP BY bc.book_id) AS k ON k.book_id = b.id"""),
)

# Or their category ids only (an index-only probe of book_category_unique per
# book), shown by the names kept for the catalog's version, which the
# statement then reads in the same snapshot (``category_names``).
_CATEGORY_IDS = (
    Sql("ARRAY(SELECT x.category_id FROM book_category x WHERE x.book_id = b.id) AS category_ids"),
    Sql(""),
)


def book_from_row(
    row: Mapping[str, Any], categories: list[Shown] | None = None, *, scored: bool = False
) -> Row:
    """The book of a details row; ``categories`` shown, else the row's JSON of them.

    ``scored``: the row's ``score`` too, last, as the response shows it.
    """
    book = {
        "id": row["id"],
        "title": row["title"],
        "isbn": row["isbn"],
        "published_year": row["published_year"],
        # numeric(10, 2) as text has its two decimals: "25.00", as the API
        # shows it, without a Decimal decoded and formatted per book.
        "price": row["price"],
        "description": row["description"],
        "author": {"id": row["author_id"], "name": row["author_name"]},
        "categories": orjson.loads(row["categories"]) if categories is None else categories,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if scored:
        book["score"] = row["score"]
    return book


def with_details(
    page: QueryString,
    *,
    scored: bool = False,
    by_score: bool = False,
    sort: SortOrder = TITLE,
    versioned: bool = False,
    category_ids: bool = False,
) -> QueryString:
    """The statement of ``books_with_details``: ``page``'s books, with author and categories.

    ``versioned``: each row holds the catalog's version too, as a column
    ``catalog_version`` (read once, in the statement's snapshot).
    ``category_ids``: each book's category ids (``category_ids``) instead of
    its categories as JSON (``categories``); versioned.
    """
    order = "page.score DESC, b.id" if by_score else sort.order_by(f"b.{sort.field}", "b.id")
    first = "page.score," if scored else ""
    if versioned or category_ids:
        first += "(SELECT version FROM catalog_version) AS catalog_version,"
    if type(page) is Compiled:
        return Compiled(_compiled_text(page.text, first, category_ids, order), page.values)
    categories, joined = _CATEGORY_IDS if category_ids else _CATEGORIES_JOINED
    return Sql(_BOOKS_WITH_DETAILS, page, Sql(first), categories, joined, Sql(order))


@functools.lru_cache(maxsize=64)
def _compiled_text(page: str, first: str, category_ids: bool, order: str) -> str:
    """``with_details``'s text around a page compiled once per shape (``query_text.Compiled``).

    Kept, so that every request of the shape sends the same string object:
    joined again per request, the text of a page by levels (some 17,000
    characters) was copied, and hashed again by asyncpg's statement cache,
    for every search (``level_walk._walk_text`` keeps the page's). The
    same text as compiling the tree: the page comes first, its placeholders
    as they are.
    """
    categories, joined = _CATEGORY_IDS if category_ids else _CATEGORIES_JOINED
    text, args = compile_postgres(
        Sql(_BOOKS_WITH_DETAILS, Compiled(page, []), Sql(first), categories, joined, Sql(order))
    )
    if args:
        raise RuntimeError(f"a value around the compiled page is not text: {args}")
    return text


async def books_with_details(db: DatabaseConnection, page: QueryString) -> list[Row]:
    """The books whose ids ``page`` selects, with author and categories joined, by title.

    One book (``get_book``); a page of a listing or a search shows its
    categories by the names kept per version (``books_with_details_and_version``).
    """
    rows = await fetch(db, with_details(page))
    return [book_from_row(row) for row in rows]


async def books_with_details_and_version(
    db: DatabaseConnection,
    page: QueryString,
    *,
    scored: bool = False,
    by_score: bool = False,
    sort: SortOrder = TITLE,
) -> tuple[list[Row], int | None]:
    """``books_with_details``, and the catalog's version in the statement's snapshot
    (None when ``page`` selects no book): every listing's and search's page.

    The statement reads each book's category ids, not its categories: they
    are shown by the names read at that version (``category_names``), one
    statement more the first time a version is seen. When the catalog moved
    between the two, the page is read again with its categories joined.
    The version is the page's own, not one this process knew beforehand (a
    search's kept terms'): a rename committed since is shown at once.
    """
    rows = await fetch(
        db, with_details(page, scored=scored, by_score=by_score, sort=sort, category_ids=True)
    )
    if not rows:
        return [], None
    version = rows[0]["catalog_version"]
    shown = await categories_at(db, version)
    if shown is not None:
        books = []
        for row in rows:
            categories = shown.of(row["category_ids"])
            if categories is None:
                break
            books.append(book_from_row(row, categories, scored=scored))
        else:
            return books, version
    rows = await fetch(
        db, with_details(page, scored=scored, by_score=by_score, sort=sort, versioned=True)
    )
    version = rows[0]["catalog_version"] if rows else None
    return [book_from_row(row, scored=scored) for row in rows], version


async def get_book(book_id: int) -> Row:
    async with connection(Book._meta.db) as db:
        books = await books_with_details(db, Sql("SELECT {}::integer AS id", book_id))
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
