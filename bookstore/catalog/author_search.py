"""``?author=`` alone: the authors looked up and a page of their books in one statement."""

from __future__ import annotations

import functools

from piccolo.querystring import QueryString

from bookstore.catalog.details import book_from_row, with_details
from bookstore.catalog.filters import (
    NARROW_AUTHOR_MATCH,
    authors_named_sql,
)
from bookstore.catalog.statements import (
    Row,
    after_key,
    contains_pattern,
    has_trigram,
    literal_limit,
)
from bookstore.database import DatabaseConnection
from bookstore.pagination import SortKey

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
def books_of_authors_named_sql(trigram: bool, continued: bool, limit: int) -> str:
    """The statement of ``books_of_authors_named`` for one shape of search.

    Built once per shape (fragment with or without a trigram, first or later
    page, page size): composing and compiling it for every search cost
    about a tenth of the Python time of an author search. Its parameters:
    the name pattern, then the cursor's title and id on later pages.
    """
    lookup = QueryString(authors_named_sql(trigram), "")
    page = _page_from_found_authors(SortKey("", 0) if continued else None, limit)
    statement = QueryString(_BOOKS_OF_AUTHORS_NAMED, lookup, with_details(page))
    sql, _ = statement.compile_string(engine_type="postgres")
    return sql


async def books_of_authors_named(
    db: DatabaseConnection, fragment: str, after: SortKey | None, limit: int
) -> list[Row] | None:
    """A page of the books whose author's name contains ``fragment``, in one statement.

    None when the fragment matches more than NARROW_AUTHOR_MATCH authors:
    their books are then found by walking titles, by another statement.
    """
    sql = books_of_authors_named_sql(has_trigram(fragment), after is not None, limit)
    rows = await db.fetch(sql, contains_pattern(fragment), *(after or ()))
    if rows[0]["authors_found"] > NARROW_AUTHOR_MATCH:
        return None
    return [book_from_row(row) for row in rows if row["id"] is not None]
