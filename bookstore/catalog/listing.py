"""Pages of books: the statements behind ``GET /books`` and the book reads.

A page is one statement: the inner query picks the ids of one page using an
index that yields rows already in (title, id) order, so it reads about as
many index entries as the page holds; the outer query fetches those books
with their author and their categories (as JSON). docs/performance.md has
the plans.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from piccolo.querystring import QueryString

from bookstore.catalog.filters import (
    NARROW_AUTHOR_MATCH,
    BookFilters,
    Criteria,
    authors_named_sql,
    found_broad,
    lone_author_fragment,
    resolve,
)
from bookstore.catalog.sorts import (
    TITLE,
    PageKey,
    SortOrder,
    merged_page,
    ordered_parts,
    sort_after,
)
from bookstore.catalog.statements import (
    Row,
    after_key,
    all_of,
    contains_pattern,
    has_trigram,
    literal_limit,
    rows_to_fetch,
)
from bookstore.catalog.statistics import stats_cache
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.errors import NotFound
from bookstore.pagination import SortKey
from bookstore.tables import Book

T = TypeVar("T")

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

# ?author= alone, looked up and paged in one statement: the authors found
# (``filters.authors_named_sql``), how many they are, and a page of their books
# with details (``_page_from_found_authors``) when they are few enough to
# list. The page is joined to the count so that the count comes back even
# when the page is empty.
_BOOKS_OF_AUTHORS_NAMED = """
WITH found AS MATERIALIZED ({})
SELECT counted.authors_found, listed.*
FROM (SELECT count(*) AS authors_found FROM found) AS counted
LEFT JOIN LATERAL ({}) AS listed ON TRUE
ORDER BY listed.title, listed.id
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


def in_categories(book_id: str, category_ids: list[int]) -> QueryString:
    """The book is in one of ``category_ids``: a probe of book_category_unique per book.

    OFFSET 0 keeps it a probe: flattened into a semi join, a generic plan
    hashed the whole second category of ``category_mode=all`` (16,000 rows
    at 100,000 books) to find a page in the first.
    """
    return QueryString(
        f"EXISTS (SELECT 1 FROM book_category x WHERE x.book_id = {book_id}"
        " AND x.category_id = ANY({}::integer[]) OFFSET 0)",
        category_ids,
    )


def in_ranges(
    criteria: Criteria, year: str, price: str, *, indexed: str | None = None
) -> list[QueryString]:
    """The year and price ranges, inclusive, on the columns ``year`` and ``price``.

    A book without the value is outside any range on it (NULL compares to nothing).
    Only the bounds given are written: an open bound is no condition at all,
    rather than a ``$1 IS NULL OR ...`` that a generic plan cannot use.

    Only the range on ``indexed`` (the field the page is sorted by) may be
    an index condition; the others are written ``column + 0``, which no
    index serves, so that they are tested on the entries of the walk in
    order. Left plain, a generic plan took a price range in a category by
    title to the price index: 62,000 books fetched and sorted for a page
    (774 ms at 1M books) instead of a walk of the title index.
    """
    conditions = []
    for field, column, (low, high) in (
        ("published_year", year, criteria.year),
        ("price", price, criteria.price),
    ):
        if field == indexed:
            if low is not None:
                conditions.append(QueryString(f"{column} >= {{}}", low))
            if high is not None:
                conditions.append(QueryString(f"{column} <= {{}}", high))
            continue
        # NOT (value < min): the same test (NULL passes neither), which a
        # generic plan expects to keep two rows in three rather than one in
        # three, so that it walks the order's index rather than scanning
        # and sorting the table for a sample of 1,001 books.
        if low is not None:
            conditions.append(QueryString(f"NOT (({column} + 0) < {{}})", low))
        if high is not None:
            conditions.append(QueryString(f"NOT (({column} + 0) > {{}})", high))
    return conditions


def ranges_of_book(book_id: str, criteria: Criteria) -> list[QueryString]:
    """The ranges as one probe of the book ``book_id`` (for tables without its year and price).

    OFFSET 0 keeps it a probe of books' primary key per candidate, never a
    join over every book in the range.
    """
    ranges = in_ranges(criteria, "r.published_year", "r.price")
    if not ranges:
        return []
    return [
        QueryString(
            f"EXISTS (SELECT 1 FROM books r WHERE r.id = {book_id} AND {{}} OFFSET 0)",
            all_of(ranges),
        )
    ]


def page_of_books(
    criteria: Criteria, after: SortKey | PageKey | None, limit: int, sort: SortOrder = TITLE
) -> QueryString:
    """The ids of one page, by the index that yields them in ``sort``'s order.

    Title order (the default) is described below; the other orders are in
    ``_page_in_order``.

    - A category: book_category (category_id, book_title, book_id) is a range
      scan in title order, whatever the category's size; with listed
      authors, book_category (category_id, book_author_id, ...) finds their
      books in it directly.
    - Listed authors: their books through books (author_id, title, id),
      sorted; a few hundred rows at most.
    - Otherwise: a walk over books (title, id) INCLUDE (author_id).
    """
    if sort != TITLE:
        return _page_in_order(criteria, sort, _page_key(after), limit)
    title_after = None if after is None else SortKey(str(_page_key(after).value), after.id)
    if criteria.category_sets:
        return _page_from_category(criteria, title_after, limit)
    return _page_from_books(criteria, title_after, limit)


def _page_key(after: SortKey | PageKey | None) -> PageKey | None:
    if after is None or isinstance(after, PageKey):
        return after
    return PageKey(after.text, after.id)


def sample_of_books(criteria: Criteria, limit: int, sort: SortOrder = TITLE) -> QueryString:
    """(id, year, price, author_id) of the first ``limit`` books matching ``criteria``, by title.

    What ``bookstore.catalog.counts`` counts: read by the same index ranges
    as a page, index only (the ranges INCLUDE those values). ``sort``: in
    that order instead (a range on it is then the index's condition).
    """
    return _page_in_order(criteria, sort, None, limit, with_values=True)


_VALUES = {
    "bc": ", bc.book_year AS year, bc.book_price AS price, bc.book_author_id AS author_id",
    "b": ", b.published_year AS year, b.price AS price, b.author_id AS author_id",
}


def _page_in_order(
    criteria: Criteria,
    sort: SortOrder,
    after: PageKey | None,
    limit: int,
    *,
    with_values: bool = False,
) -> QueryString:
    """A page in an order other than title ascending.

    - Listed authors: their books gathered through books (author_id, ...)
      and sorted; as many rows as they have books (in the categories asked).
    - Categories: for each category driving the page, a range of
      book_category (category_id, <copy of the value>, book_id), which
      INCLUDEs the year, price and author, so ranges and broad author
      fragments are tested on the index entry; the parts merged.
    - Otherwise: a range of books (<value>, id), likewise covering.
    """
    if criteria.author_ids is not None:
        return _gathered_authors_page(criteria, sort, after, limit, with_values=with_values)
    columns = "id, year, price, author_id" if with_values else "id"
    if criteria.category_sets:
        driving, *others = criteria.category_sets
        conditions = [in_categories("bc.book_id", ids) for ids in others]
        conditions += in_ranges(criteria, "bc.book_year", "bc.book_price", indexed=sort.field)
        if criteria.author_pattern is not None:
            conditions.append(
                QueryString(
                    "EXISTS (SELECT 1 FROM authors a"
                    " WHERE a.id = bc.book_author_id AND a.name ILIKE {} OFFSET 0)",
                    criteria.author_pattern,
                )
            )
        parts = [
            part
            for category_id in driving
            for part in ordered_parts(
                sort,
                source="book_category bc",
                value=f"bc.{sort.copy}",
                book_id="bc.book_id",
                conditions=all_of([QueryString("bc.category_id = {}", category_id), *conditions]),
                after=after,
                limit=limit,
                extra=_VALUES["bc"] if with_values else "",
            )
        ]
        return merged_page(sort, parts, limit, columns)
    conditions = in_ranges(criteria, "b.published_year", "b.price", indexed=sort.field)
    if criteria.author_pattern is not None:
        # A probe of the author per book, in the index's order (OFFSET 0):
        # hashed, the authors' books without a year were all read (5,000 at
        # 100,000 books) for the second part of a page by year.
        conditions.append(
            QueryString(
                "EXISTS (SELECT 1 FROM authors a"
                " WHERE a.id = b.author_id AND a.name ILIKE {} OFFSET 0)",
                criteria.author_pattern,
            )
        )
    parts = ordered_parts(
        sort,
        source="books b",
        value=f"b.{sort.field}",
        book_id="b.id",
        conditions=all_of(conditions),
        after=after,
        limit=limit,
        extra=_VALUES["b"] if with_values else "",
    )
    return merged_page(sort, parts, limit, columns)


def _gathered_authors_page(
    criteria: Criteria,
    sort: SortOrder,
    after: PageKey | None,
    limit: int,
    *,
    with_values: bool = False,
) -> QueryString:
    """The listed authors' books, all gathered (OFFSET 0 keeps that a loop over them), sorted.

    No index yields an author's books by price or year; gathering them reads
    as many rows as the authors have books, which the author filter keeps to
    a few hundred but for the most prolific authors (docs/performance.md).
    Sorted anyway, they are sorted once, books without the value last.
    """
    conditions = [_author_is("b.author_id", criteria.author_ids or [])]
    conditions += in_ranges(criteria, "b.published_year", "b.price")
    conditions += [in_categories("b.id", ids) for ids in criteria.category_sets]
    columns = "id, year, price, author_id" if with_values else "id"
    value = f"b.{sort.field}"
    return QueryString(
        f"SELECT {columns} FROM (SELECT b.id, {value} AS value{_VALUES['b']}"
        " FROM books b WHERE {} OFFSET 0) AS b WHERE {}"
        f" ORDER BY {sort.order_by('b.value', 'b.id')} {literal_limit(limit)}",
        all_of(conditions),
        QueryString("TRUE") if after is None else sort_after(sort, "b.value", "b.id", after),
    )


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
    conditions += in_ranges(criteria, "b.published_year", "b.price")
    if after is not None:
        conditions.append(after_key("b.title, b.id", after))
    return QueryString(
        f"SELECT b.id FROM books b WHERE {{}} ORDER BY b.title, b.id {literal_limit(limit)}",
        all_of(conditions),
    )


def _page_from_category(criteria: Criteria, after: SortKey | None, limit: int) -> QueryString:
    driving, *others = criteria.category_sets
    conditions = [in_categories("bc.book_id", ids) for ids in others]
    conditions += in_ranges(criteria, "bc.book_year", "bc.book_price")
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


def _page_from_found_authors(after: SortKey | None, limit: int) -> QueryString:
    """The ids of a page of the books of the authors in ``found``, if NARROW_AUTHOR_MATCH at most.

    One descent of books (author_id, title, id) per author, each stopping
    after a page (LATERAL ... LIMIT), then sorted: one author's books are
    read in title order and no further than the page, a few hundred
    authors' a page each at most. The LATERAL keeps that a loop in the
    generic plan, whatever it estimates of ``found``. With more authors the
    one-time filter skips the page: the caller walks titles instead.
    """
    after_cursor = QueryString("TRUE") if after is None else after_key("b.title, b.id", after)
    return QueryString(
        "SELECT id FROM (SELECT book.id, book.title FROM found CROSS JOIN LATERAL"
        " (SELECT b.id, b.title FROM books b WHERE b.author_id = found.id AND {}"
        f" ORDER BY b.title, b.id {literal_limit(limit)}) AS book"
        f" WHERE (SELECT count(*) FROM found) <= {NARROW_AUTHOR_MATCH}) AS gathered"
        f" ORDER BY title, id {literal_limit(limit)}",
        after_cursor,
    )


@functools.lru_cache(maxsize=64)
def _books_of_authors_named_sql(trigram: bool, continued: bool, limit: int) -> str:
    """The statement of ``_books_of_authors_named`` for one shape of search.

    Built once per shape (fragment with or without a trigram, first or later
    page, page size): composing and compiling it for every search cost
    about a tenth of the Python time of an author search. Its parameters:
    the name pattern, then the cursor's title and id on later pages.
    """
    lookup = QueryString(authors_named_sql(trigram), "")
    page = _page_from_found_authors(SortKey("", 0) if continued else None, limit)
    statement = QueryString(_BOOKS_OF_AUTHORS_NAMED, lookup, _with_details(page))
    sql, _ = statement.compile_string(engine_type="postgres")
    return sql


async def _books_of_authors_named(
    db: DatabaseConnection, fragment: str, after: SortKey | None, limit: int
) -> list[Row] | None:
    """A page of the books whose author's name contains ``fragment``, in one statement.

    None when the fragment matches more than NARROW_AUTHOR_MATCH authors:
    their books are then found by walking titles, by another statement.
    """
    sql = _books_of_authors_named_sql(has_trigram(fragment), after is not None, limit)
    rows = await db.fetch(sql, contains_pattern(fragment), *(after or ()))
    if rows[0]["authors_found"] > NARROW_AUTHOR_MATCH:
        return None
    return [_book_from_row(row) for row in rows if row["id"] is not None]


async def _page(
    db: DatabaseConnection,
    filters: BookFilters,
    after: PageKey | None,
    limit: int,
    sort: SortOrder = TITLE,
) -> tuple[list[Row], Criteria | None]:
    """Up to ``limit`` books for ``filters`` after ``after``, with their details, and the
    criteria they were found by (None when the one-statement author search found them).

    One statement for ?author= alone (lookup and page together) and for
    searches without free-text terms; two otherwise (lookup, then page), or
    when an ?author= fragment is found broad.
    """
    fragment = lone_author_fragment(filters) if sort == TITLE else None
    if fragment is not None:
        title_after = None if after is None else SortKey(str(after.value), after.id)
        books = await _books_of_authors_named(db, fragment, title_after, limit)
        if books is not None:
            return books, None
        criteria = found_broad(fragment)
    else:
        criteria = await resolve(filters, db)
        if criteria.matches_nothing():
            return [], criteria
        if len(criteria.category_sets) > 1:
            criteria = await smallest_first(db, criteria)
    page = page_of_books(criteria, after, limit, sort)
    return await books_with_details(db, page, sort=sort), criteria


async def smallest_first(db: DatabaseConnection, criteria: Criteria) -> Criteria:
    """``criteria`` with its category sets smallest first, by the statistics.

    With ``category_mode=all`` the first set is walked in order and the
    others probed per book: walking the smallest reads the fewest entries
    when the sets barely intersect, and no more than it holds.
    """
    stats = await stats_cache.get(db)
    if not stats.known:
        return criteria
    ordered = sorted(
        criteria.category_sets, key=lambda ids: sum(stats.category_books(c) for c in ids)
    )
    return dataclasses.replace(criteria, category_sets=tuple(ordered))


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


def _with_details(
    page: QueryString,
    *,
    scored: bool = False,
    by_score: bool = False,
    sort: SortOrder = TITLE,
) -> QueryString:
    """The statement of ``books_with_details``: ``page``'s books, with author and categories."""
    order = "page.score DESC, b.id" if by_score else sort.order_by(f"b.{sort.field}", "b.id")
    return QueryString(
        _BOOKS_WITH_DETAILS,
        QueryString("page.score," if scored else ""),
        page,
        QueryString(order),
    )


async def books_with_details(
    db: DatabaseConnection,
    page: QueryString,
    *,
    scored: bool = False,
    by_score: bool = False,
    sort: SortOrder = TITLE,
) -> list[Row]:
    """The books whose ids ``page`` selects, with author and categories, in ``sort``'s order.

    ``scored``: ``page`` also selects a relevance ``score``, which each book
    carries; ``by_score``: the books come best first, then by id.
    """
    rows = await fetch(db, _with_details(page, scored=scored, by_score=by_score, sort=sort))
    if not scored:
        return [_book_from_row(row) for row in rows]
    return [{**_book_from_row(row), "score": row["score"]} for row in rows]


Then = Callable[[DatabaseConnection, Criteria], Awaitable[T]]


async def list_books(
    filters: BookFilters,
    *,
    limit: int,
    after: SortKey | PageKey | None = None,
    sort: SortOrder = TITLE,
) -> tuple[list[Row], PageKey | None]:
    """One page in ``sort``'s order (title by default), and the key to continue after, if any.

    Keyset pagination: every page costs the same, the thousandth as much as
    the first. One statement per page; a search by ?author= alone looks
    its authors up in the same statement, other searches with ?author= or
    ?category= in one more.
    """
    books, next_key, _ = await list_books_then(filters, limit=limit, after=after, sort=sort)
    return books, next_key


async def list_books_then(
    filters: BookFilters,
    *,
    limit: int,
    after: SortKey | PageKey | None = None,
    sort: SortOrder = TITLE,
    then: Then[T] | None = None,
) -> tuple[list[Row], PageKey | None, T | None]:
    """``list_books``, then ``then`` on the same connection with the criteria it resolved.

    What the page's totals and facets need (``bookstore.catalog.counts``):
    the terms are looked up once for both.
    """
    after_then = None
    async with connection(Book._meta.db) as db:
        # One extra row tells whether a next page exists.
        page, criteria = await _page(db, filters, _page_key(after), rows_to_fetch(limit + 1), sort)
        if then is not None:
            if criteria is None:
                criteria = await resolve(filters, db)
            after_then = await then(db, criteria)
    books = page[: limit + 1]
    next_key = None
    if len(books) > limit:
        books = books[:limit]
        next_key = PageKey(sort.value_of(books[-1]), books[-1]["id"])
    return books, next_key, after_then


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
