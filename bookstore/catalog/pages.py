"""The ids of one page of books, for each filter and order.

Each page is read from an index that yields rows already in the page's
order, so that it reads about as many index entries as the page holds,
whatever the size of the catalog. docs/performance.md has the plans.
"""

from __future__ import annotations

from piccolo.querystring import QueryString

from bookstore.catalog.filters import (
    Criteria,
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
    after_key,
    all_of,
    literal_limit,
)
from bookstore.pagination import SortKey
from bookstore.query_text import Sql


def author_is(column: str, author_ids: list[int]) -> QueryString:
    """``column`` is one of ``author_ids``.

    One author, the common case, is written as an equality: the plan, made
    once for all parameters, then reads that author's books from the index in
    title order and stops after a page. ``= ANY`` of an array that could hold
    several authors has to read all their books and sort them (3,400 rows for
    the most prolific author of 100,000 books, ten times that at a million).
    """
    if len(author_ids) == 1:
        return Sql(f"{column} = {{}}", author_ids[0])
    return Sql(f"{column} = ANY({{}}::integer[])", author_ids)


def in_categories(book_id: str, category_ids: list[int]) -> QueryString:
    """The book is in one of ``category_ids``: a probe of book_category_unique per book.

    OFFSET 0 keeps it a probe: flattened into a semi join, a generic plan
    hashed the whole second category of ``category_mode=all`` (16,000 rows
    at 100,000 books) to find a page in the first.
    """
    return Sql(
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
                conditions.append(Sql(f"{column} >= {{}}", low))
            if high is not None:
                conditions.append(Sql(f"{column} <= {{}}", high))
            continue
        # NOT (value < min): the same test (NULL passes neither), which a
        # generic plan expects to keep two rows in three rather than one in
        # three, so that it walks the order's index rather than scanning
        # and sorting the table for a sample of 1,001 books.
        if low is not None:
            conditions.append(Sql(f"NOT (({column} + 0) < {{}})", low))
        if high is not None:
            conditions.append(Sql(f"NOT (({column} + 0) > {{}})", high))
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
        Sql(
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
        return _page_in_order(criteria, sort, page_key(after), limit)
    title_after = None if after is None else SortKey(str(page_key(after).value), after.id)
    if _merges_first_two_sets(criteria):
        return _page_of_merged_categories(criteria, title_after, limit)
    if criteria.category_sets:
        return _page_from_category(criteria, title_after, limit)
    return _page_from_books(criteria, title_after, limit)


def _merges_first_two_sets(criteria: Criteria) -> bool:
    """Whether the page is ``books_in_every_category``'s: asked for, and what it can read."""
    return (
        criteria.merge_first_two_sets
        and len(criteria.category_sets) >= 2
        and all(len(ids) == 1 for ids in criteria.category_sets)
        and criteria.author_ids is None
        and criteria.author_pattern is None
    )


def _page_of_merged_categories(
    criteria: Criteria, after: SortKey | None, limit: int
) -> QueryString:
    """Books in every category, the first two categories' title ranges merged.

    ``books_in_every_category`` (migration 2026-11-29T09:50) reads both
    ranges of book_category (category_id, book_title, book_id) in order, as
    a merge join planned inside the function, where no hash join can be
    chosen; the other categories are probed per book found in both. One
    round trip, whatever the statistics say. At 1M books it reads 10-33
    index pages for a page of the benchmark's pairs, against 276-3,581 with
    a probe per book (docs/performance.md).
    """
    (first,), (second,), *rest = criteria.category_sets
    others = sorted({ids[0] for ids in rest} - {first, second})
    year_min, year_max = criteria.year
    price_min, price_max = criteria.price
    return Sql(
        "SELECT id FROM books_in_every_category({}, {}, {}::integer[], {}, {},"
        " {}, {}, {}, {}, {}) AS page (id)",
        first,
        second,
        others,
        "" if after is None else after.text,
        0 if after is None else after.id,
        year_min,
        year_max,
        price_min,
        price_max,
        limit,
    )


def page_key(after: SortKey | PageKey | None) -> PageKey | None:
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
                Sql(
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
                conditions=all_of([Sql("bc.category_id = {}", category_id), *conditions]),
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
            Sql(
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
    conditions = [author_is("b.author_id", criteria.author_ids or [])]
    conditions += in_ranges(criteria, "b.published_year", "b.price")
    conditions += [in_categories("b.id", ids) for ids in criteria.category_sets]
    columns = "id, year, price, author_id" if with_values else "id"
    value = f"b.{sort.field}"
    return Sql(
        f"SELECT {columns} FROM (SELECT b.id, {value} AS value{_VALUES['b']}"
        " FROM books b WHERE {} OFFSET 0) AS b WHERE {}"
        f" ORDER BY {sort.order_by('b.value', 'b.id')} {literal_limit(limit)}",
        all_of(conditions),
        Sql("TRUE") if after is None else sort_after(sort, "b.value", "b.id", after),
    )


def _page_from_books(criteria: Criteria, after: SortKey | None, limit: int) -> QueryString:
    conditions = []
    if criteria.author_ids is not None:
        conditions.append(author_is("b.author_id", criteria.author_ids))
    if criteria.author_pattern is not None:
        # "+ 0" hides the author index: for a broad match the walk in title
        # order is right, whatever a generic plan would estimate.
        conditions.append(
            Sql(
                "(b.author_id + 0) IN (SELECT id FROM authors WHERE name ILIKE {})",
                criteria.author_pattern,
            )
        )
    conditions += in_ranges(criteria, "b.published_year", "b.price")
    if after is not None:
        conditions.append(after_key("b.title, b.id", after))
    return Sql(
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
            Sql(
                "EXISTS (SELECT 1 FROM authors a"
                " WHERE a.id = bc.book_author_id AND a.name ILIKE {} OFFSET 0)",
                criteria.author_pattern,
            )
        )
    if criteria.author_ids is not None and len(criteria.author_ids) == 1:
        # One author's books in the category come from the index in title order.
        conditions.append(author_is("bc.book_author_id", criteria.author_ids))
    if criteria.author_ids is not None and len(criteria.author_ids) > 1:
        # The authors' books in the category: one index descent per author
        # (LATERAL, and OFFSET 0 to keep it a loop: book_category
        # (category_id, book_author_id, ...) searched on both columns), then
        # sorted: few rows. Written as "= ANY(authors)", or as a plain join,
        # the generic plans of PostgreSQL 15 read the whole category instead
        # (20,000-32,000 rows at 100,000 books), and given the cursor so did
        # 18's. The outer OFFSET 0 fences the search off from the ordering and
        # the cursor for the same reason.
        after_cursor = Sql("TRUE") if after is None else after_key("title, id", after)
        scans = [
            Sql(
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
            Sql(
                "(SELECT bc.book_id AS id, bc.book_title AS title FROM book_category bc"
                " WHERE bc.category_id = {} AND {} ORDER BY bc.book_title, bc.book_id"
                f" {literal_limit(limit)})",
                category_id,
                all_of(conditions),
            )
            for category_id in driving
        ]
    # Two categories (one named by slug, one by name): two scans, merged.
    merged = Sql(" UNION ".join("{}" for _ in scans), *scans)
    return Sql(f"SELECT id FROM ({{}}) AS page ORDER BY title, id {literal_limit(limit)}", merged)
