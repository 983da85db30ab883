"""Every search is served by indexes, and reads about a page of the large tables.

A search whose plan falls back to a sequential scan, or walks a whole index,
still returns the right page, so no functional test notices; it is just slow
on a real catalog (see bookstore/catalog/pages.py for the index each shape relies
on). This module seeds 100,000 synthetic books once, captures the statements
``list_books`` really sends (``factories.record_statements``), and EXPLAIN
ANALYZEs each with its real arguments, in the plan the service's pool uses:
no sequential scan of books or book_category, and at most
``ROWS_READ_BUDGET`` rows of them read. It also checks each page against a
plain SQL query written independently of the service's.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from factories import Statement, record_statements, walked_words
from fastapi import FastAPI

from bookstore.catalog import (
    NARROW_AUTHOR_MATCH,
    BookFilters,
    Row,
    broad_fragments,
    get_book,
    list_books,
)
from bookstore.catalog.category_names import categories_at
from bookstore.catalog.counts import count_matching, stats_cache
from bookstore.catalog.details import books_with_details
from bookstore.catalog.filters import Criteria, resolve
from bookstore.catalog.pages import page_of_books
from bookstore.catalog.search import (
    SearchResult,
    TextQuery,
    levels,
    plans,
    search_books,
)
from bookstore.catalog.search.kept_pages import kept_pages
from bookstore.catalog.search.level_walk import WORD_SLOTS
from bookstore.catalog.search.suggest import suggest
from bookstore.catalog.search.vocabulary import look_up_query
from bookstore.catalog.search.words import parse_query
from bookstore.catalog.sorts import PageKey, sort_order
from bookstore.catalog.statements import rows_to_fetch
from bookstore.database import connection, pool_options
from bookstore.pagination import SearchKey, SortKey
from bookstore.schemas import FACETS
from bookstore.seed import seed_synthetic
from bookstore.settings import get_settings
from bookstore.tables import Book

pytestmark = pytest.mark.slow

BOOKS = 100_000
PAGE = 20
# Tables whose sequential scan costs a read of the whole catalog (the last
# two are the search index behind q=).
LARGE_TABLES = frozenset({"books", "book_category", "book_search", "search_postings"})
# Rows of those tables one statement may read, kept or filtered out, at
# BOOKS books. The largest read by design: gathering the books of a common
# surname's authors, the most prolific author among them, to sort them
# (about 3,900). A generic plan that walked a category from the cursor on
# read 31,000.
ROWS_READ_BUDGET = 5_000
# Postings one statement may read in key order (index-only scans of a word's
# run: the walks and merge joins of ``search.levels``). A leaf page holds
# about 300 of them, where a probe of a row touches 3 or 4 pages: two runs of
# 2,000 read side by side cost about 15 pages, the 2,000 probes they replace
# about 7,000 (q_prefix: "candl cl" merged with "clock" and "cloud").
POSTINGS_READ_BUDGET = 20_000


@pytest.fixture(autouse=True)
async def empty_catalog() -> None:
    """Overrides conftest's TRUNCATE before each test: this module's tests share one catalog."""


async def _truncate() -> None:
    await Book.raw(
        "TRUNCATE books, authors, categories, book_category, search_logs RESTART IDENTITY CASCADE"
    )


@dataclass(frozen=True)
class Catalog:
    """Authors, fragments and categories of the seeded catalog, picked by their size."""

    popular_author_id: int
    popular_author_name: str
    rare_author_name: str
    specific_author_name: str
    common_surname: str
    fragment_of_many_authors: str
    big_category_id: int
    big_category_slug: str
    small_category_name: str
    popular_authors_category_slug: str
    popular_authors_category_id: int


def surname_and_number(name: str) -> str:
    """What a customer types for "Yusuf Garcia 12044": "garcia 12044"."""
    return " ".join(name.split()[-2:]).lower()


async def _describe_catalog() -> Catalog:
    async def one(sql: str, *args: Any) -> dict[str, Any]:
        rows = await Book.raw(sql, *args)
        assert rows, sql
        return rows[0]

    books_by_author = (
        "SELECT a.id, a.name, count(*) AS books FROM books b JOIN authors a ON a.id = b.author_id"
        " GROUP BY a.id, a.name"
    )
    popular = await one(f"{books_by_author} ORDER BY books DESC, a.id LIMIT 1")
    rare = await one(f"{books_by_author} HAVING count(*) <= 2 ORDER BY a.id DESC LIMIT 1")
    specific = await one(
        f"{books_by_author} HAVING count(*) BETWEEN 5 AND 20 ORDER BY a.id LIMIT 1"
    )
    surname = await one(
        "SELECT split_part(name, ' ', 2) AS surname, count(*) AS authors FROM authors"
        " GROUP BY 1 ORDER BY authors DESC, surname LIMIT 1"
    )
    # Two letters, as typed by a customer who has just started: hundreds of
    # authors, more than list_books gathers by id.
    many = await one(
        "SELECT fragment, count(*) AS authors FROM authors, unnest({}::text[]) AS fragment"
        " WHERE name ILIKE '%' || fragment || '%' GROUP BY fragment"
        " ORDER BY authors DESC, fragment LIMIT 1",
        ["an", "er", "el", "in", "ar"],
    )
    assert many["authors"] > NARROW_AUTHOR_MATCH
    categories_by_size = (
        "SELECT c.id, c.slug, c.name, count(*) AS books FROM categories c"
        " JOIN book_category bc ON bc.category_id = c.id GROUP BY c.id"
    )
    big = await one(f"{categories_by_size} ORDER BY books DESC, c.id LIMIT 1")
    small = await one(f"{categories_by_size} ORDER BY books, c.id LIMIT 1")
    popular_category = await one(
        "SELECT c.id, c.slug, count(*) AS books FROM books b"
        " JOIN book_category bc ON bc.book_id = b.id JOIN categories c ON c.id = bc.category_id"
        " WHERE b.author_id = {} GROUP BY c.id ORDER BY books DESC, c.id LIMIT 1",
        popular["id"],
    )
    return Catalog(
        popular_author_id=popular["id"],
        popular_author_name=popular["name"],
        rare_author_name=rare["name"],
        specific_author_name=specific["name"],
        common_surname=surname["surname"],
        fragment_of_many_authors=many["fragment"],
        big_category_id=big["id"],
        big_category_slug=big["slug"],
        small_category_name=small["name"],
        popular_authors_category_slug=popular_category["slug"],
        popular_authors_category_id=popular_category["id"],
    )


@pytest.fixture(scope="module")
async def catalog(app: FastAPI) -> AsyncIterator[Catalog]:
    """100,000 synthetic books for this module, removed after its last test."""
    await _truncate()
    await seed_synthetic(BOOKS)
    try:
        yield await _describe_catalog()
    finally:
        await _truncate()


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[asyncpg.Connection]:
    """A connection of the tests' own for EXPLAIN, with the settings of the service's pool.

    The pool plans each statement once, for any parameters
    (``force_generic_plan``): those generic plans are the ones to check.
    """
    server_settings = pool_options(get_settings())["server_settings"]
    connection = await asyncpg.connect(os.environ["DATABASE_URL"], server_settings=server_settings)
    try:
        yield connection
    finally:
        await connection.close()


# -- the statements the service runs ------------------------------------------------


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, database: asyncpg.Connection) -> list[Statement]:
    """Every statement the service sends from now on, as sent to asyncpg."""
    return record_statements(monkeypatch, ignore=database)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan node and all below it, InitPlans and SubPlans included (they are in "Plans")."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


async def assert_served_by_indexes(
    database: asyncpg.Connection, statements: list[Statement]
) -> None:
    assert statements, "no statement captured: does the data layer still go through asyncpg?"
    for statement in statements:
        (plan,) = json.loads(await explain(database, statement, "ANALYZE, FORMAT JSON"))
        await assert_plan_served_by_indexes(database, statement, plan)
        # A function's own statement is planned apart: its reads do not show
        # in the caller's plan (a Function Scan), so it is checked by itself.
        for inner, settings in await statements_of_functions(database, statement):
            async with database.transaction():
                for setting in settings:
                    name, value = setting.split("=", 1)
                    await database.execute("SELECT set_config($1, $2, true)", name, value)
                (plan,) = json.loads(await explain(database, inner, "ANALYZE, FORMAT JSON"))
                await assert_plan_served_by_indexes(database, inner, plan)


# Functions of the schema that run a page's query themselves (PL/pgSQL,
# ``RETURN QUERY``), called with every argument a parameter of the statement.
PAGE_FUNCTIONS = ("books_in_every_category",)


async def statements_of_functions(
    database: asyncpg.Connection, statement: Statement
) -> list[tuple[Statement, list[str]]]:
    """The query each page function in ``statement`` runs, with its arguments and settings.

    The query is taken from the installed function (``RETURN QUERY ...;``),
    its parameters' names replaced by ``$n``, so that it can be PREPAREd and
    EXPLAINed like any statement, under the function's own ``SET`` options.
    """
    found = []
    for name in PAGE_FUNCTIONS:
        for call in re.finditer(rf"\b{name}\(([^)]*)\)", statement.sql):
            numbers = [int(n) for n in re.findall(r"\$(\d+)", call.group(1))]
            source, argument_names, argument_types, settings = await database.fetchrow(
                "SELECT prosrc, proargnames, proargtypes::regtype[]::text[],"
                " coalesce(proconfig, '{}') FROM pg_proc WHERE proname = $1",
                name,
            )
            query = re.search(r"RETURN QUERY(.*?);\s*END", source, re.DOTALL)
            assert query is not None and len(numbers) == len(argument_names), name
            sql = query.group(1)
            for position, (argument, type_) in enumerate(
                zip(argument_names, argument_types, strict=True), start=1
            ):
                sql = re.sub(rf"\b{argument}\b", f"(${position}::{type_})", sql)
            args = [statement.args[number - 1] for number in numbers]
            found.append((Statement(sql, args), list(settings)))
    return found


async def assert_plan_served_by_indexes(
    database: asyncpg.Connection, statement: Statement, plan: dict[str, Any]
) -> None:
    """No sequential scan of a large table in ``plan``, and a bounded number of rows read."""
    nodes = list(plan_nodes(plan["Plan"]))
    scanned = {
        node["Relation Name"]
        for node in nodes
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES
    }
    if scanned:
        pytest.fail(
            f"sequential scan of {', '.join(sorted(scanned))} in:\n{statement.sql}\n"
            f"args: {statement.args}\n" + await explain(database, statement)
        )
    # An index can be read whole too: count the rows taken from the large
    # tables, kept or filtered out; postings read in key order apart.
    in_order = [node for node in nodes if _reads_postings_in_order(node)]
    read = sum(
        rows_read(node)
        for node in nodes
        if node.get("Relation Name") in LARGE_TABLES and node not in in_order
    )
    postings = sum(rows_read(node) for node in in_order)
    if postings > POSTINGS_READ_BUDGET:
        pytest.fail(
            f"{postings} postings read in order (budget {POSTINGS_READ_BUDGET}) in:\n"
            f"{statement.sql}\nargs: {statement.args}\n"
            + await explain(database, statement, "ANALYZE")
        )
    if read > ROWS_READ_BUDGET:
        pytest.fail(
            f"{read} rows of books/book_category read (budget {ROWS_READ_BUDGET}) in:\n"
            f"{statement.sql}\nargs: {statement.args}\n"
            + await explain(database, statement, "ANALYZE")
        )


def _reads_postings_in_order(node: dict[str, Any]) -> bool:
    """An index-only scan of search_postings: one word's run, read in (field, book_id) order."""
    only_index = node["Node Type"] == "Index Only Scan"
    return only_index and node.get("Relation Name") == "search_postings"


def rows_read(node: dict[str, Any]) -> float:
    """Rows a scan node produced or discarded, over all its loops."""
    per_loop = (
        node.get("Actual Rows", 0)
        + node.get("Rows Removed by Filter", 0)
        + node.get("Rows Removed by Index Recheck", 0)
    )
    return per_loop * node.get("Actual Loops", 1)


async def explain(database: asyncpg.Connection, statement: Statement, options: str = "") -> str:
    """EXPLAIN of the plan ``database`` would run ``statement`` with, as the service runs it.

    A statement EXPLAINed directly is planned for its arguments; prepared and
    then EXECUTEd, it gets the plan the session's ``plan_cache_mode`` picks.
    """
    # EXECUTE takes no bound parameters: the arguments go in as literals,
    # which PostgreSQL converts to the types of the prepared parameters.
    literals = [
        await database.fetchval("SELECT quote_nullable($1::text)", _as_text(arg))
        for arg in statement.args
    ]
    await database.execute(f"PREPARE planned AS {statement.sql}")
    try:
        execute = f"EXECUTE planned({', '.join(literals)})" if literals else "EXECUTE planned"
        rows = await database.fetch(f"EXPLAIN ({options or 'COSTS'}) {execute}")
        return "\n".join(row[0] for row in rows)
    finally:
        await database.execute("DEALLOCATE planned")


def _as_text(value: Any) -> str | None:
    """``value`` in PostgreSQL's text input form (an array's items quoted, None as NULL)."""
    if isinstance(value, list):
        return "{" + ",".join(_array_item(item) for item in value) + "}"
    return None if value is None else str(value)


def _array_item(item: Any) -> str:
    if item is None:
        return "NULL"
    return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- what a page should hold, by plain SQL ---------------------------------------------


async def expected_page(filters: BookFilters, after: SortKey | PageKey | None) -> list[int]:
    """The ids of the page, by the most direct query: slow perhaps, but plainly right."""
    conditions, args = ["TRUE"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.author is not None:
        conditions.append(f"strpos(lower(a.name), lower({arg(filters.author)})) > 0")
    if filters.author_id is not None:
        conditions.append(f"b.author_id = {arg(filters.author_id)}")
    for category in filters.categories:
        conditions.append(
            "EXISTS (SELECT 1 FROM book_category bc JOIN categories c ON c.id = bc.category_id"
            f" WHERE bc.book_id = b.id AND (c.slug = lower({arg(category)})"
            f" OR lower(c.name) = lower({arg(category)})))"
        )
    for category_id in filters.category_ids:
        conditions.append(
            "EXISTS (SELECT 1 FROM book_category bc WHERE bc.book_id = b.id"
            f" AND bc.category_id = {arg(category_id)})"
        )
    if after is not None:
        conditions.append(f"(b.title, b.id) > ({arg(after[0])}, {arg(after.id)})")
    sql = (
        "SELECT b.id FROM books b JOIN authors a ON a.id = b.author_id"
        f" WHERE {' AND '.join(conditions)} ORDER BY b.title, b.id LIMIT {arg(PAGE)}"
    )
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        return [row["id"] for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


# -- the search shapes ------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A kind of search a customer makes, built from the seeded catalog."""

    filters: Callable[[Catalog], BookFilters]
    second_page: bool = False


SHAPES: dict[str, Shape] = {
    "popular_author": Shape(
        lambda c: BookFilters(author=surname_and_number(c.popular_author_name))
    ),
    "rare_author": Shape(lambda c: BookFilters(author=surname_and_number(c.rare_author_name))),
    "specific_fragment": Shape(
        lambda c: BookFilters(author=surname_and_number(c.specific_author_name))
    ),
    "common_surname": Shape(lambda c: BookFilters(author=c.common_surname.lower())),
    "fragment_of_hundreds_of_authors": Shape(
        lambda c: BookFilters(author=c.fragment_of_many_authors)
    ),
    "big_category": Shape(lambda c: BookFilters(category=c.big_category_slug)),
    "small_category_by_name": Shape(lambda c: BookFilters(category=c.small_category_name)),
    "author_and_category": Shape(
        lambda c: BookFilters(
            author=surname_and_number(c.popular_author_name),
            category=c.popular_authors_category_slug,
        )
    ),
    "fragment_of_hundreds_of_authors_and_big_category": Shape(
        lambda c: BookFilters(author=c.fragment_of_many_authors, category=c.big_category_slug)
    ),
    "common_surname_and_big_category": Shape(
        lambda c: BookFilters(author=c.common_surname.lower(), category=c.big_category_slug)
    ),
    "common_surname_and_big_category_second_page": Shape(
        lambda c: BookFilters(author=c.common_surname.lower(), category=c.big_category_slug),
        second_page=True,
    ),
    "author_id": Shape(lambda c: BookFilters(author_id=c.popular_author_id)),
    "category_id": Shape(lambda c: BookFilters(category_id=c.big_category_id)),
    "author_id_and_category_id": Shape(
        lambda c: BookFilters(
            author_id=c.popular_author_id, category_id=c.popular_authors_category_id
        )
    ),
    "no_filter": Shape(lambda c: BookFilters()),
    "no_filter_second_page": Shape(lambda c: BookFilters(), second_page=True),
    "big_category_second_page": Shape(
        lambda c: BookFilters(category=c.big_category_slug), second_page=True
    ),
    "popular_author_second_page": Shape(
        lambda c: BookFilters(author=surname_and_number(c.popular_author_name)),
        second_page=True,
    ),
    "fragment_of_hundreds_of_authors_second_page": Shape(
        lambda c: BookFilters(author=c.fragment_of_many_authors), second_page=True
    ),
}


@pytest.fixture(params=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> Shape:
    return SHAPES[request.param]


async def start_of(shape: Shape, catalog: Catalog) -> SortKey | None:
    """Where the page starts: the beginning, or after the first page for a second page."""
    if not shape.second_page:
        return None
    _, after = await list_books(shape.filters(catalog), limit=PAGE)
    assert after is not None, "the first page should not be the last"
    return after


async def test_a_search_reads_a_page_not_a_table(
    shape: Shape, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    after = await start_of(shape, catalog)
    captured.clear()
    await list_books(shape.filters(catalog), limit=PAGE, after=after)
    await assert_served_by_indexes(database, captured)


async def test_a_search_returns_the_page_plain_sql_finds(shape: Shape, catalog: Catalog):
    filters = shape.filters(catalog)
    after = await start_of(shape, catalog)
    books, _ = await list_books(filters, limit=PAGE, after=after)
    assert books, "every shape is chosen to have results"
    assert [book["id"] for book in books] == await expected_page(filters, after)


async def test_reading_one_book_reads_a_page_not_a_table(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    book = await get_book(BOOKS // 2)
    assert book["id"] == BOOKS // 2
    await assert_served_by_indexes(database, captured)


async def test_a_page_reads_the_categories_once_not_once_per_book(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """A subquery per book, planned with PostgreSQL's default random_page_cost,
    hashed all of ``categories`` for each book of the page (21 x 300 rows).

    The statement of one book, and of a page whose catalog version moved
    before its names were read (listings' and searches' pages show the
    names kept per catalog version instead: the next tests)."""
    page = page_of_books(
        Criteria(category_sets=([catalog.big_category_id],)), None, rows_to_fetch(PAGE + 1)
    )
    async with connection(Book._meta.db) as db:
        books = await books_with_details(db, page)
    assert len(books) == PAGE + 1

    (statement,) = [statement for statement in captured if "json_agg" in statement.sql]
    (plan,) = json.loads(await explain(database, statement, "ANALYZE, FORMAT JSON"))
    read = sum(
        rows_read(node)
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name") == "categories"
    )
    assert read <= await database.fetchval("SELECT count(*) FROM categories")


async def test_a_listed_page_reads_its_books_category_ids_not_the_categories(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """Once the categories' names are kept for the catalog's version
    (``category_names``), a listing's one statement reads its books' links
    only: joining ``categories`` and building each book's JSON was 0.25 of
    the statement's 0.8 ms on PostgreSQL 15 at 1M books."""
    filters = BookFilters(category_id=catalog.big_category_id)
    await list_books(filters, limit=PAGE)
    captured.clear()

    books, _ = await list_books(filters, limit=PAGE)

    assert len(books) == PAGE
    assert all(catalog.big_category_id in {c["id"] for c in book["categories"]} for book in books)
    (statement,) = captured
    (plan,) = json.loads(await explain(database, statement, "ANALYZE, FORMAT JSON"))
    relations = {node.get("Relation Name") for node in plan_nodes(plan["Plan"])}
    assert "categories" not in relations
    await assert_plan_served_by_indexes(database, statement, plan)


# -- ?author= alone: lookup and page in one statement -----------------------------------

NARROW_AUTHOR_SHAPES = [
    "popular_author",
    "rare_author",
    "specific_fragment",
    "common_surname",
    "popular_author_second_page",
]


async def list_books_in_two_statements(
    filters: BookFilters, *, limit: int, after: SortKey | None = None
) -> tuple[list[Row], SortKey | None]:
    """``list_books`` as every search ran before ?author= alone became one statement.

    The lookup (``resolve``), then the page for the ids it found: the
    reference that the one-statement path must agree with, book for book.
    """
    async with connection(Book._meta.db) as db:
        criteria = await resolve(filters, db)
        if criteria.matches_nothing():
            return [], None
        page = page_of_books(criteria, after, rows_to_fetch(limit + 1))
        books = (await books_with_details(db, page))[: limit + 1]
    if len(books) <= limit:
        return books, None
    return books[:limit], SortKey(books[limit - 1]["title"], books[limit - 1]["id"])


@pytest.fixture
def no_fragment_known_broad() -> Iterator[None]:
    broad_fragments.clear()
    yield
    broad_fragments.clear()


@pytest.mark.parametrize("name", NARROW_AUTHOR_SHAPES)
async def test_a_search_by_a_narrow_author_fragment_alone_is_one_statement(
    name: str, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    shape = SHAPES[name]
    after = await start_of(shape, catalog)
    captured.clear()

    books, _ = await list_books(shape.filters(catalog), limit=PAGE, after=after)

    assert books
    assert len(captured) == 1, [statement.sql for statement in captured]
    await assert_served_by_indexes(database, captured)


@pytest.mark.parametrize("name", NARROW_AUTHOR_SHAPES)
async def test_a_search_by_author_alone_returns_what_the_two_statement_path_returns(
    name: str, catalog: Catalog
):
    shape = SHAPES[name]
    filters = shape.filters(catalog)
    after = await start_of(shape, catalog)

    one = await list_books(filters, limit=PAGE, after=after)
    two = await list_books_in_two_statements(filters, limit=PAGE, after=after)

    assert one == two
    assert [book["id"] for book in one[0]] == await expected_page(filters, after)


async def test_an_unknown_author_is_one_statement_and_an_empty_page(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    filters = BookFilters(author="nobody by this name")

    books, after = await list_books(filters, limit=PAGE)

    assert (books, after) == ([], None)
    assert len(captured) == 1
    await assert_served_by_indexes(database, captured)
    assert await list_books_in_two_statements(filters, limit=PAGE) == ([], None)


async def keep_category_names() -> None:
    """The categories' names read and kept for the catalog's version (``category_names``).

    A page reads them once per version, whichever asks first: kept before a
    test counts its statements, the count is the same whatever ran before it.
    """
    async with connection(Book._meta.db) as db:
        version = await db.fetchval("SELECT version FROM catalog_version")
        assert await categories_at(db, version) is not None


async def test_a_fragment_found_broad_is_walked_by_a_second_statement_then_by_one(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    no_fragment_known_broad: None,
):
    filters = BookFilters(author=catalog.fragment_of_many_authors)
    await keep_category_names()
    captured.clear()

    first = await list_books(filters, limit=PAGE)
    assert len(captured) == 2, [statement.sql for statement in captured]
    await assert_served_by_indexes(database, captured)
    assert catalog.fragment_of_many_authors in broad_fragments

    captured.clear()
    again = await list_books(filters, limit=PAGE)
    assert len(captured) == 1, [statement.sql for statement in captured]

    assert first == again
    broad_fragments.clear()
    assert first == await list_books_in_two_statements(filters, limit=PAGE)
    assert [book["id"] for book in first[0]] == await expected_page(filters, None)


async def test_a_fragment_that_grows_from_narrow_to_broad_keeps_its_results_right(
    catalog: Catalog, database: asyncpg.Connection, no_fragment_known_broad: None
):
    # A word no synthetic name holds: first three authors with books have it,
    # then more authors than can be listed (without books: a book write is
    # slow with the search index's triggers). The statement that looked up a
    # few authors then finds too many, and the search walks titles instead.
    filters = BookFilters(author="qzvx")

    async def search() -> tuple[list[Row], SortKey | None]:
        books, after = await list_books(filters, limit=PAGE)
        assert (books, after) == await list_books_in_two_statements(filters, limit=PAGE)
        assert [book["id"] for book in books] == await expected_page(filters, None)
        return books, after

    try:
        await database.execute(
            "WITH added AS (INSERT INTO authors (name)"
            " SELECT 'Qzvx Early ' || n FROM generate_series(1, 3) AS n RETURNING id)"
            " INSERT INTO books (title, author_id, created_at, updated_at)"
            " SELECT 'Qzvx book ' || added.id || '-' || k, added.id, now(), now()"
            " FROM added, generate_series(1, 4) AS k"
        )
        narrow = await search()
        assert len(narrow[0]) == 12
        assert "qzvx" not in broad_fragments

        await database.execute(
            "INSERT INTO authors (name) SELECT 'Qzvx Late ' || n"
            " FROM generate_series(1, $1::integer) AS n",
            NARROW_AUTHOR_MATCH,
        )
        assert await search() == narrow
        assert "qzvx" in broad_fragments
        assert await search() == narrow  # now walked in one statement
    finally:
        await database.execute(
            "DELETE FROM books"
            " WHERE author_id IN (SELECT id FROM authors WHERE name LIKE 'Qzvx %')"
        )
        await database.execute("DELETE FROM authors WHERE name LIKE 'Qzvx %'")


# -- the search box's shapes (q=) ---------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """Words of the seeded catalog for the search box, picked by their frequency."""

    frequent: str  # the word held by the most books
    title: str  # two words of one title, both held by thousands of books
    title_category: str  # a category of that title's book
    # An author of 5 to 20 books, one of which holds the frequent word, as typed.
    frequent_author: str
    title_author_id: int  # the author of the title's book


async def _pick_words() -> Words:
    frequent = await Book.raw("SELECT word FROM search_words ORDER BY books DESC, word LIMIT 1")
    (author,) = await Book.raw(
        "SELECT a.name FROM authors a WHERE (SELECT count(*) FROM books b"
        "   WHERE b.author_id = a.id) BETWEEN 5 AND 20"
        " AND EXISTS (SELECT 1 FROM book_search s WHERE s.author_id = a.id"
        "   AND s.words @> ARRAY[{}])"
        " ORDER BY a.id LIMIT 1",
        frequent[0]["word"],
    )
    # A title of two common words (long enough to take a typo), and its category.
    (title,) = await Book.raw(
        "SELECT s.book_id, s.title, s.author_id, c.slug FROM book_search s"
        " JOIN book_category bc ON bc.book_id = s.book_id"
        " JOIN categories c ON c.id = bc.category_id"
        " WHERE cardinality(s.title) = 2 AND (SELECT min(w.books) FROM search_words w"
        "   WHERE w.word = ANY(s.title)) > 1000"
        " AND (SELECT min(length(t)) FROM unnest(s.title) t) >= 5"
        " ORDER BY s.book_id LIMIT 1"
    )
    return Words(
        frequent[0]["word"],
        " ".join(title["title"]),
        title["slug"],
        surname_and_number(author["name"]),
        title["author_id"],
    )


def _with_typo(words: str) -> str:
    """The first word with two neighbouring letters swapped (one typo)."""
    first, *rest = words.split()
    typo = first[0] + first[2] + first[1] + first[3:]
    return " ".join([typo, *rest])


TEXT_SHAPES: dict[str, Callable[[Words], tuple[str, BookFilters]]] = {
    "q_word": lambda w: (w.frequent + " ", BookFilters()),
    "q_word_as_typed": lambda w: (w.frequent, BookFilters()),
    "q_words": lambda w: (w.title + " ", BookFilters()),
    "q_typo": lambda w: (_with_typo(w.title) + " ", BookFilters()),
    "q_prefix": lambda w: (w.title[: len(w.title) - 2], BookFilters()),
    "q_filtered": lambda w: (w.title + " ", BookFilters(category=w.title_category)),
    "q_word_in_a_category": lambda w: (w.frequent + " ", BookFilters(category=w.title_category)),
    # The words' postings walked with the author a condition of each row
    # read all of them (a third of the catalog) for the author's few books.
    "q_word_by_an_author": lambda w: (w.frequent + " ", BookFilters(author=w.frequent_author)),
    "q_words_by_an_author_id": lambda w: (w.title + " ", BookFilters(author_id=w.title_author_id)),
}


@pytest.fixture(params=list(TEXT_SHAPES))
def text_shape(request: pytest.FixtureRequest) -> Callable[[Words], tuple[str, BookFilters]]:
    return TEXT_SHAPES[request.param]


@pytest.mark.parametrize("page", ["first", "second"])
async def test_a_text_search_reads_a_page_not_a_table(
    text_shape: Callable[[Words], tuple[str, BookFilters]],
    page: str,
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
):
    q, filters = text_shape(await _pick_words())
    text = TextQuery(q)
    result = await search_books(filters, text, limit=PAGE)
    assert result.books, f"{q!r} should find books"
    after = result.next_key if page == "second" else None
    if page == "second" and after is None:
        pytest.skip("a single page")
    captured.clear()
    await search_books(filters, text, limit=PAGE, after=after)
    await assert_served_by_indexes(database, captured)


async def test_a_text_searchs_page_reads_its_books_category_ids_not_the_categories(
    text_shape: Callable[[Words], tuple[str, BookFilters]],
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
):
    """Once the categories' names are kept for the catalog's version, a
    search's page reads its books' links only, as a listing's does
    (``details.books_with_details_and_version``): joining ``categories`` and
    building each book's JSON was a part of every search's page statement."""
    q, filters = text_shape(await _pick_words())
    text = TextQuery(q)
    await search_books(filters, text, limit=PAGE)
    captured.clear()

    found = await search_books(filters, text, limit=PAGE)

    assert any(book["categories"] for book in found.books)
    (page,) = [statement for statement in captured if "WITH page AS" in statement.sql]
    (plan,) = json.loads(await explain(database, page, "ANALYZE, FORMAT JSON"))
    relations = {node.get("Relation Name") for node in plan_nodes(plan["Plan"])}
    assert "categories" not in relations


# The first 200 books (by id) of every category of 3,000 to 10,000 books,
# with the category (n: its size, c: its row) and each book's row of
# book_search (s): where the searches in a category below find their words.
_FIRST_BOOKS_OF_MIDSIZE_CATEGORIES = (
    " FROM (SELECT category_id, count(*) AS books FROM book_category GROUP BY 1"
    "       HAVING count(*) BETWEEN 3000 AND 10000) AS n"
    " JOIN categories c ON c.id = n.category_id"
    " CROSS JOIN LATERAL (SELECT bc.book_id FROM book_category bc"
    "   WHERE bc.category_id = n.category_id ORDER BY bc.book_id LIMIT 200) AS b"
    " JOIN book_search s ON s.book_id = b.book_id"
)


async def _page_served_by_indexes(
    filters: BookFilters,
    text: TextQuery,
    database: asyncpg.Connection,
    captured: list[Statement],
) -> SearchResult:
    """``text``'s first page, which must hold books; asked again, ``captured`` holds
    the statements of the second asking, every one served by indexes."""
    found = await search_books(filters, text, limit=PAGE)
    assert found.books, text.q
    captured.clear()
    await search_books(filters, text, limit=PAGE)
    await assert_served_by_indexes(database, captured)
    return found


async def _analyzed_plans(
    database: asyncpg.Connection, captured: list[Statement]
) -> list[tuple[Statement, list[dict[str, Any]]]]:
    """Each captured statement with the nodes of its plan, run (EXPLAIN ANALYZE)."""
    plans = []
    for statement in captured:
        (plan,) = json.loads(await explain(database, statement, "ANALYZE, FORMAT JSON"))
        plans.append((statement, list(plan_nodes(plan["Plan"]))))
    return plans


def _words_gin_scans(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scans of ``book_search_words_idx`` among a plan's ``nodes``."""
    return [node for node in nodes if node.get("Index Name") == "book_search_words_idx"]


async def _assert_same_page_again(
    filters: BookFilters, text: TextQuery, found: SearchResult, captured: list[Statement]
) -> list[Statement]:
    """``text``'s page asked again (after the caller changed how it is read) holds
    ``found``'s books with their scores; the statements it sent."""
    captured.clear()
    again = await search_books(filters, text, limit=PAGE)
    assert [(b["id"], b["score"]) for b in again.books] == [
        (b["id"], b["score"]) for b in found.books
    ]
    return list(captured)


async def _rare_word_in_a_category() -> tuple[str, str, int]:
    """A word of a few books, a word of many, both in one book, and that book's category.

    The category holds a few thousand books, fewer than the frequent word's
    postings would cost merged: the search is met with the category.
    """
    (found,) = await Book.raw(
        "SELECT c.slug, r.word AS rare, f.word AS frequent, n.books"
        f"{_FIRST_BOOKS_OF_MIDSIZE_CATEGORIES}"
        " JOIN search_words r ON r.word = ANY(s.title) AND r.books BETWEEN 5 AND 100"
        " JOIN search_words f ON f.word = ANY(s.title) AND f.books >= 3 * n.books"
        " WHERE length(r.word) >= 5"
        " ORDER BY n.books DESC, b.book_id, r.word, f.word LIMIT 1"
    )
    return found["slug"], f"{found['rare']} {found['frequent']} ", found["books"]


async def test_a_rare_word_in_a_category_probes_its_postings_not_the_whole_category(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """A term held by far fewer books than the category is met by a probe per posting.

    Read whole and hashed, the category cost a read of every link of it
    (the meeting removed in session 27 did): 105,170 of them for the 400
    postings of "grutil" at 1M books.
    """
    slug, q, category_books = await _rare_word_in_a_category()
    filters, text = BookFilters(category=slug), TextQuery(q)
    await _page_served_by_indexes(filters, text, database, captured)
    links = 0.0
    for _, nodes in await _analyzed_plans(database, captured):
        links += sum(
            rows_read(node) for node in nodes if node.get("Relation Name") == "book_category"
        )
    assert links < category_books / 10, (q, slug, links, category_books)


async def _words_rarely_together_in_a_category() -> tuple[str, str]:
    """Two words of a few thousand books each, both in a book of a category of a few thousand.

    At 100,000 books few books hold both in the category (about
    100,000 x 0.03 x 0.03 x 0.05): the terms and the category meet in one
    GIN scan, where the walk would merge both words' postings.
    """
    (found,) = await Book.raw(
        "SELECT c.slug, r.word AS one, f.word AS other"
        f"{_FIRST_BOOKS_OF_MIDSIZE_CATEGORIES}"
        " JOIN search_words r ON r.word = ANY(s.title) AND r.books BETWEEN 1500 AND 5000"
        " JOIN search_words f ON f.word = ANY(s.title) AND f.books BETWEEN 1500 AND 5000"
        "   AND f.word > r.word"
        " WHERE length(r.word) >= 4 AND length(f.word) >= 4"
        " ORDER BY n.books DESC, b.book_id, r.word, f.word LIMIT 1"
    )
    return found["slug"], f"{found['one']} {found['other']} "


async def test_words_in_a_category_meet_in_one_gin_scan(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """Two words and a category, each of a few thousand books, met by one GIN scan.

    Each word is a key of ``book_search_category_words_idx``, its words
    qualified by the category (``3:word``), whose posting lists hold the
    word's books in the category only: one bitmap index scan, not a
    BitmapAnd, and the rows read are the books in all three, not the words'
    postings nor the category's links.
    """
    slug, q = await _words_rarely_together_in_a_category()
    filters, text = BookFilters(category=slug), TextQuery(q)
    await _page_served_by_indexes(filters, text, database, captured)
    scans, read = [], 0.0
    for _, nodes in await _analyzed_plans(database, captured):
        assert not any(node["Node Type"] == "BitmapAnd" for node in nodes), (q, slug)
        assert not _words_gin_scans(nodes), (q, slug)
        scans += _category_words_scans(nodes)
        read += sum(rows_read(node) for node in nodes if "Relation Name" in node)
    assert scans, (q, slug, "no GIN scan of the words in the category")
    assert read < 1_000, (q, slug, read)


def _category_words_scans(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scans of ``book_search_category_words_idx`` among a plan's ``nodes``."""
    return [node for node in nodes if node.get("Index Name") == "book_search_category_words_idx"]


async def _rare_words_together_in_the_biggest_category(big_category_id: int) -> str:
    """Two rare words of one title of a book of the biggest category (a third of the catalog)."""
    (found,) = await Book.raw(
        "SELECT r.word AS one, f.word AS other"
        " FROM (SELECT book_id FROM book_category WHERE category_id = {}"
        "       ORDER BY book_id LIMIT 2000) AS b"
        " JOIN book_search s ON s.book_id = b.book_id"
        " JOIN search_words r ON r.word = ANY(s.title) AND r.books BETWEEN 100 AND 1000"
        " JOIN search_words f ON f.word = ANY(s.title) AND f.books BETWEEN 1000 AND 5000"
        " WHERE length(r.word) >= 5 AND length(f.word) >= 5"
        " ORDER BY b.book_id, r.word, f.word LIMIT 1",
        big_category_id,
    )
    return f"{found['one']} {found['other']} "


async def test_words_qualified_by_the_biggest_category_find_the_page_the_walk_finds(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    monkeypatch: pytest.MonkeyPatch,
):
    """Rare words in a category of a third of the catalog: the keys qualified by the
    category find the page that the walk finds, book for book, score for score.

    Until session 29 the page was checked against the words and the category
    as keys of ``book_search_words_idx``, a scan no plan took since session
    28 and removed then."""
    q = await _rare_words_together_in_the_biggest_category(catalog.big_category_id)
    filters, text = BookFilters(category=catalog.big_category_slug), TextQuery(q)
    found = await _page_served_by_indexes(filters, text, database, captured)
    assert found.books, q
    scans = [
        scan
        for _, nodes in await _analyzed_plans(database, captured)
        for scan in _category_words_scans(nodes)
    ]
    assert scans, (q, "no GIN scan of the words in the category")
    from bookstore.catalog import search as search_package

    monkeypatch.setattr(search_package, "plan_in_category", lambda *_: plans.WALK)
    walked = await _assert_same_page_again(filters, text, found, captured)
    assert not any("search_category_words(" in statement.sql for statement in walked), q


async def _the_commonest_word_and_a_rare_one_of_a_title() -> str:
    """The title word held by most books, then a word of 5-50 books of a title holding it."""
    (found,) = await Book.raw(
        "SELECT c.word AS common, r.word AS rare"
        " FROM (SELECT w.word FROM search_words w WHERE EXISTS (SELECT 1 FROM search_postings t"
        "   WHERE t.word = w.word AND t.field = 0) ORDER BY w.books DESC, w.word LIMIT 1) AS c"
        " JOIN search_postings p ON p.word = c.word AND p.field = 0"
        " JOIN book_search s ON s.book_id = p.book_id"
        " JOIN search_words r ON r.word = ANY(s.title) AND r.books BETWEEN 5 AND 50"
        " WHERE length(r.word) >= 5"
        " ORDER BY r.word, p.book_id LIMIT 1"
    )
    return f"{found['common']} {found['rare']} "


async def test_a_rare_word_with_the_commonest_one_keys_the_gin_scan_on_the_rare_word(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    monkeypatch: pytest.MonkeyPatch,
):
    """No category, a rare word after the commonest: the GIN scan is keyed on the rare word.

    The scan steps through its keys in the order written; the common word's
    posting tree cost more than the rare word's few rows, which tell it by
    their ``document`` (``plans.gin_keys``, ``told_by_document``, as in
    a category). Same page as with every term a key.
    """
    q = await _the_commonest_word_and_a_rare_one_of_a_title()
    rare = q.split()[1]
    text = TextQuery(q)
    found = await _page_served_by_indexes(BookFilters(), text, database, captured)
    assert not [s for s in captured if "WITH RECURSIVE branch" in s.sql], q
    keys = []  # the words of each key of the scan: its parameters, under generic plans
    for statement, nodes in await _analyzed_plans(database, captured):
        for node in _words_gin_scans(nodes):
            keys.append(
                [
                    statement.args[int(number) - 1]
                    for number in re.findall(r"words && \$(\d+)", node["Index Cond"])
                ]
            )
    assert keys == [[[rare]]], (q, keys)
    monkeypatch.setattr(plans, "gin_keys", lambda terms, *_: plans.GinKeys(len(terms)))
    keyed = await _assert_same_page_again(BookFilters(), text, found, captured)
    assert not any("s.document @@" in statement.sql for statement in keyed), q


async def _rare_word_and_a_prefix() -> str:
    """A word of a few books and the first three letters of another word of its title."""
    (found,) = await Book.raw(
        "SELECT r.word AS rare, left(o.word, 3) AS prefix"
        " FROM search_words r"
        " JOIN search_postings p ON p.word = r.word AND p.field = 0"
        " JOIN book_search s ON s.book_id = p.book_id"
        " CROSS JOIN LATERAL (SELECT w.word FROM unnest(s.title) AS w (word)"
        "   WHERE w.word <> r.word AND length(w.word) >= 5 ORDER BY w.word LIMIT 1) AS o"
        " WHERE r.books BETWEEN 5 AND 100 AND length(r.word) >= 5"
        " ORDER BY r.word, p.book_id LIMIT 1"
    )
    return f"{found['rare']} {found['prefix']}"


async def test_a_rare_word_and_a_prefix_read_their_few_matches_by_one_gin_scan(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    force_walk: Callable[[], None],
):
    """A word of a few books and a prefix: the matches from the GIN index, not walks.

    The level walk merges each completion's run with the word's, reading the
    completions' runs to their ends when the page is not full (twenty walks
    of 2,000-5,000 postings at 1M books); the GIN scan reads the word's few
    books and those of the completions past them. Same page either way.
    """
    q = await _rare_word_and_a_prefix()
    await _assert_gin_page_then_walked_alike(q, database, captured, force_walk, most_read=1_000)


async def _assert_gin_page_then_walked_alike(
    q: str,
    database: asyncpg.Connection,
    captured: list[Statement],
    force_walk: Callable[[], None],
    *,
    most_read: int,
) -> None:
    """``q``'s page by one GIN scan reading fewer than ``most_read`` rows, the walk's alike.

    Served by indexes, with no level walk; the walk (forced by ``force_walk``,
    as before ``gin_first``) finds the same books with the same scores.
    """
    text = TextQuery(q)
    found = await _page_served_by_indexes(BookFilters(), text, database, captured)
    assert not [s for s in captured if "WITH RECURSIVE branch" in s.sql], q
    scans, read = [], 0.0
    for _, nodes in await _analyzed_plans(database, captured):
        gin = _words_gin_scans(nodes)
        if gin:  # the page (the terms' lookup reads their runs' first postings)
            scans += gin
            read += sum(rows_read(node) for node in nodes if "Relation Name" in node)
    assert scans, (q, "no GIN scan of the words")
    assert read < most_read, (q, read)
    force_walk()
    walked = await _assert_same_page_again(BookFilters(), text, found, captured)
    # By levels, or by its best walk alone (``level_walk.first_walk``).
    assert [s for s in walked if "FROM search_postings p" in s.sql], q


async def _word_and_a_prefix_of_few_guessed_matches() -> str:
    """A word of 1,000-5,000 books and a prefix whose books in common are guessed few.

    The books holding both are guessed at most ``GIN_FIRST_MATCHES``, which
    takes the GIN scan, however many completions the prefix has.
    """
    rows = await Book.raw(
        "SELECT r.word AS word, left(o.word, 2) AS prefix"
        " FROM search_words r"
        " JOIN LATERAL (SELECT p.book_id FROM search_postings p"
        "   WHERE p.word = r.word AND p.field = 0 ORDER BY p.book_id LIMIT 3) AS p ON TRUE"
        " JOIN book_search s ON s.book_id = p.book_id"
        " CROSS JOIN LATERAL unnest(s.title) AS o (word)"
        " WHERE r.books BETWEEN 1000 AND 5000 AND o.word <> r.word AND length(o.word) >= 4"
        " ORDER BY r.books, r.word, o.word LIMIT 300"
    )
    (top,) = await Book.raw("SELECT max(book_id) AS id FROM book_search")
    async with connection(Book._meta.db) as db:
        for row in rows:
            q = f"{row['word']} {row['prefix']}"
            terms, _ = await look_up_query(db, parse_query(q))
            if not all(term.variants for term in terms):
                continue
            if plans.gin_first(terms, top["id"]):
                return q
    raise AssertionError("no word and prefix of few guessed matches")


async def test_a_word_and_a_prefix_of_few_guessed_matches_read_them_by_one_gin_scan(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    force_walk: Callable[[], None],
):
    """A word and a prefix whose books in common are guessed few: the GIN scan, not walks.

    The scan skips between its keys and reads only the few books in both;
    the walk reads each completion's run to its end while the page is not
    full ("kouzeth bo" at 1M books: 9.6 ms of PostgreSQL CPU walked, 2.0 by
    GIN). Same page either way.
    """
    q = await _word_and_a_prefix_of_few_guessed_matches()
    await _assert_gin_page_then_walked_alike(q, database, captured, force_walk, most_read=2_000)


async def _words_and_prefixes_in_titles() -> list[str]:
    """Texts of a common title word and a prefix of words found with it in titles.

    Each prefix has at least three completions in the titles holding the
    word, and 60 books hold both: its completions' title runs are walked
    merged with the word's, several words a walk.
    """
    rows = await Book.raw(
        "SELECT w.word, left(o.word, 2) AS prefix"
        " FROM (SELECT t.word FROM search_postings t WHERE t.field = 0"
        "       GROUP BY t.word ORDER BY count(*) DESC, t.word LIMIT 3) AS w"
        " JOIN search_postings p ON p.word = w.word AND p.field = 0"
        " JOIN book_search s ON s.book_id = p.book_id"
        " CROSS JOIN LATERAL unnest(s.title) AS o (word)"
        " WHERE o.word <> w.word AND length(o.word) >= 3"
        " GROUP BY 1, 2 HAVING count(DISTINCT o.word) >= 3 AND count(*) >= 60"
        " ORDER BY count(*) DESC, 1, 2 LIMIT 20"
    )
    return [f"{row['word']} {row['prefix']}" for row in rows]


def _merged_unions(statement: Statement) -> int:
    """How many walks of a level walk's statement merge several words' runs as one."""
    # The walks' arrays are sent as text (level_walk._walks_text): the words
    # are letters and digits, quoted, none of them a comma; booleans True, False.
    words = [
        None if word == "NULL" else word.strip('"')
        for word in statement.args[0].strip("{}").split(",")
    ]
    merged = [flag == "True" for flag in statement.args[8].strip("{}").split(",")]
    return sum(
        1
        for walk, is_merged in enumerate(merged)
        if is_merged and words[walk * WORD_SLOTS + 1] is not None
    )


async def test_a_levels_words_are_read_as_one_run_merge_joined_with_the_partner(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    monkeypatch: pytest.MonkeyPatch,
    prefix_postings_off: Callable[[], AbstractContextManager[None]],
):
    """A word and a prefix: the completions' title runs are one run, in book_id order.

    A Merge Append of the completions' index scans, streamed into a merge
    join with the word's run (not appended and sorted, which reads every
    run to its end, nor a nested loop): the walk stops after the page's
    books of the union, not each completion's. The three ways of reading a
    walk reach their one row check by a Merge Append too, in book_id order
    (an Append sorted would read the way's run to its end). Same page as
    the GIN path. The prefix's own postings (``P*``) are not walked, as
    when its list is stale: a walk of one word has no union.
    """
    with prefix_postings_off():
        for q in await _words_and_prefixes_in_titles():
            text = TextQuery(q)
            found = await _page_served_by_indexes(BookFilters(), text, database, captured)
            walks = [s for s in captured if "WITH RECURSIVE branch" in s.sql]
            if walks and _merged_unions(walks[0]):
                break
        else:
            pytest.fail("no word and prefix whose completions are merged as one run")
        ((_, nodes),) = await _analyzed_plans(database, walks)
        unions = [
            node
            for node in nodes
            if node["Node Type"] == "Merge Join"
            and any(child["Node Type"] == "Merge Append" for child in node.get("Plans", []))
        ]
        read = [
            child
            for join in unions
            for append in join["Plans"]
            if append["Node Type"] == "Merge Append"
            for child in plan_nodes(append)
            if _reads_postings_in_order(child) and child.get("Actual Rows", 0) > 0
        ]
        assert len(read) >= 2, (q, "the union's runs are not read by a merge join")
        (checked,) = [node for node in nodes if node.get("Alias") == "j"]
        ways = [
            child
            for child in checked["Plans"]
            if child.get("Parent Relationship") not in ("SubPlan", "InitPlan")
        ]
        assert [way["Node Type"] for way in ways] == ["Merge Append"], q
        monkeypatch.setattr(levels, "MAX_BRANCHES", -1)  # the GIN path
        by_gin = await _assert_same_page_again(BookFilters(), text, found, captured)
        assert not [s for s in by_gin if "WITH RECURSIVE branch" in s.sql], q


async def test_a_word_and_a_prefix_walk_the_prefixs_own_postings(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    monkeypatch: pytest.MonkeyPatch,
    prefix_postings_off: Callable[[], AbstractContextManager[None]],
):
    """A word and a prefix with postings of its own (``P*``, its list the completions):
    the completions' runs are one, the prefix's, met with the word's.

    First and second pages served by indexes, rows and postings bounded; the
    same pages as the completions walked one by one (the prefix's list
    stale) and as the GIN path. Every first page by levels: none read by its
    best walk alone (``first_walk``, the test below).
    """
    monkeypatch.setattr(levels, "FILLS_MARGIN", math.inf)
    for q in await _words_and_prefixes_in_titles():
        text = TextQuery(q)
        found = await _page_served_by_indexes(BookFilters(), text, database, captured)
        walks = [s for s in captured if "WITH RECURSIVE branch" in s.sql]
        if walks and f"{q.split()[-1]}*" in walked_words(walks[:1]) and found.next_key:
            break
    else:
        pytest.fail("no word and prefix walked through the prefix's own postings")
    assert not _merged_unions(walks[0]), q
    captured.clear()
    second = await search_books(BookFilters(), text, limit=PAGE, after=found.next_key)
    assert second.books, q
    await assert_served_by_indexes(database, captured)
    with prefix_postings_off():
        one_by_one = await _assert_same_page_again(BookFilters(), text, found, captured)
        walks = [s for s in one_by_one if "WITH RECURSIVE branch" in s.sql]
        assert walks and not any(word.endswith("*") for word in walked_words(walks[:1])), q
        monkeypatch.setattr(levels, "MAX_BRANCHES", -1)  # the GIN path
        by_gin = await _assert_same_page_again(BookFilters(), text, found, captured)
        assert not [s for s in by_gin if "WITH RECURSIVE branch" in s.sql], q


async def test_a_first_page_its_best_walk_fills_reads_that_walk_alone(
    catalog: Catalog,
    database: asyncpg.Connection,
    captured: list[Statement],
    monkeypatch: pytest.MonkeyPatch,
):
    """A word and a prefix whose best group is one walk guessed to fill the page: that
    walk alone (``level_walk.first_walk``), its runs read in book_id order and met by
    a merge join or by probes, never sorted (a sort reads a run to its end), served by
    indexes; the same page as the page by levels.
    """
    # A word of the catalog's (its titles' postings hold prefixes' own, "vo*").
    texts = [q for q in await _words_and_prefixes_in_titles() if "*" not in q]
    for q in texts:
        text = TextQuery(q)
        found = await _page_served_by_indexes(BookFilters(), text, database, captured)
        pages = [s for s in captured if "WITH page AS" in s.sql]
        if len(pages) == 1 and "WITH RECURSIVE branch" not in pages[0].sql:
            break
    else:
        pytest.fail("no word and prefix whose first page is read by its best walk alone")
    ((_, nodes),) = await _analyzed_plans(database, pages)
    walked = [node for node in nodes if _reads_postings_in_order(node)]
    assert len(walked) == 2, q
    # The page's books are sorted by score (``details``), never the runs.
    sorts = [node for node in nodes if node["Node Type"] in ("Sort", "Hash")]
    assert [node["Sort Key"][0] for node in sorts] == ["page.score DESC"], q
    met = {node["Node Type"] for node in nodes} & {"Merge Join", "SubPlan"}
    met |= {node.get("Parent Relationship") for node in walked} & {"SubPlan"}
    assert met, (q, "the runs are neither merge joined nor probed")
    kept_pages().clear()
    monkeypatch.setattr(levels, "FILLS_MARGIN", math.inf)
    by_levels = await _assert_same_page_again(BookFilters(), text, found, captured)
    assert [s for s in by_levels if "WITH RECURSIVE branch" in s.sql], q


@pytest.mark.parametrize("page", ["first", "second"])
async def test_common_words_in_title_order_read_a_page_not_a_table(
    page: str, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """``sort=title`` with the two commonest words walks the title index and probes
    each book's row until a page is found (``ordered.page_by_title_walk``): sorting
    every match read 19,965 rows of book_search and books for twenty titles."""
    common = await Book.raw("SELECT word FROM search_words ORDER BY books DESC, word LIMIT 2")
    text = TextQuery(" ".join(row["word"] for row in common) + " ", sort="title")
    first = await search_books(BookFilters(), text, limit=PAGE)
    assert len(first.books) == PAGE and first.next_key is not None
    after = first.next_key if page == "second" else None
    captured.clear()
    await search_books(BookFilters(), text, limit=PAGE, after=after)
    await assert_served_by_indexes(database, captured)


# Books a late cursor leaves of a common word's matches: pages walked along the
# title index, the last one short (the title order's end), then read as today.
LAST_MATCHES = 95


@pytest.mark.parametrize("words", ["rare", "common_from_a_late_title"])
async def test_a_text_in_title_order_gives_every_match_once_across_pages(
    words: str, catalog: Catalog
):
    """Page after page in title order, a text's matches come each once, in (title, id)
    order, as a plain statement over every match sorts them: a rare word's (every
    match sorted), and the commonest word's from a cursor near the end of the titles
    (walked along the title index, the last page short of a page, so every match
    after its cursor sorted)."""
    if words == "rare":
        (row,) = await Book.raw(
            "SELECT word FROM search_words WHERE books BETWEEN 30 AND 60 ORDER BY word LIMIT 1"
        )
        q = row["word"] + " "
    else:
        q = (await _pick_words()).frequent + " "
    text = TextQuery(q, sort="title")
    found = await search_books(BookFilters(), text, limit=PAGE)
    assert found.match is not None and not found.ignored_words, q
    terms = found.match.terms
    expected = await Book.raw(
        "SELECT b.id, b.title FROM book_search s JOIN books b ON b.id = s.book_id WHERE "
        + " AND ".join("s.words && {}::text[]" for _ in terms)
        + " ORDER BY b.title, b.id",
        *[list(term.words) for term in terms],
    )
    if words != "rare":
        start = expected[-LAST_MATCHES - 1]
        expected = expected[-LAST_MATCHES:]
        found = await search_books(
            BookFilters(), text, limit=PAGE, after=SearchKey(start["title"], start["id"], 0)
        )
    seen: list[int] = []
    while True:
        seen += [book["id"] for book in found.books]
        if found.next_key is None:
            break
        found = await search_books(BookFilters(), text, limit=PAGE, after=found.next_key)
    assert seen == [row["id"] for row in expected], q


# -- storefront browsing (issue 10): several categories, ranges, sorts, counts -------------


@dataclass(frozen=True)
class Browse:
    """A storefront listing: filters, an order, and whether to read its second page."""

    filters: Callable[[Catalog, list[int]], BookFilters]
    sort: str = "title"
    second_page: bool = False


async def _biggest_categories() -> list[int]:
    rows = await Book.raw(
        "SELECT category_id FROM book_category GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3"
    )
    return [row["category_id"] for row in rows]


BROWSE_SHAPES: dict[str, Browse] = {
    "categories_any": Browse(lambda c, big: BookFilters(category_id=tuple(big))),
    "categories_any_second_page": Browse(
        lambda c, big: BookFilters(category_id=tuple(big[:2])), second_page=True
    ),
    "categories_all": Browse(
        lambda c, big: BookFilters(category_id=tuple(big[:2]), category_mode="all")
    ),
    "categories_all_second_page": Browse(
        lambda c, big: BookFilters(category_id=tuple(big[:2]), category_mode="all"),
        second_page=True,
    ),
    "categories_all_with_a_price_range": Browse(
        lambda c, big: BookFilters(
            category_id=tuple(big[:2]),
            category_mode="all",
            price_min=Decimal("10"),
            price_max=Decimal("20"),
        ),
        second_page=True,
    ),
    "price_range_in_big_category": Browse(
        lambda c, big: BookFilters(
            category_id=big[0], price_min=Decimal("10"), price_max=Decimal("20")
        )
    ),
    "price_range_whole_catalog": Browse(
        lambda c, big: BookFilters(price_min=Decimal("10"), price_max=Decimal("20"))
    ),
    "year_range_whole_catalog_by_title": Browse(
        lambda c, big: BookFilters(year_min=1990, year_max=1999), second_page=True
    ),
    "big_category_by_price": Browse(lambda c, big: BookFilters(category_id=big[0]), "price"),
    "big_category_by_price_second_page": Browse(
        lambda c, big: BookFilters(category_id=big[0]), "price", second_page=True
    ),
    "big_category_by_descending_price_second_page": Browse(
        lambda c, big: BookFilters(category_id=big[0]), "-price", second_page=True
    ),
    "two_categories_by_newest_with_a_price_range": Browse(
        lambda c, big: BookFilters(category_id=tuple(big[:2]), price_max=Decimal("15")),
        "-created_at",
        second_page=True,
    ),
    "big_category_by_year_with_a_year_range": Browse(
        lambda c, big: BookFilters(category_id=big[0], year_min=1950, year_max=1999),
        "-published_year",
        second_page=True,
    ),
    "whole_catalog_by_newest": Browse(lambda c, big: BookFilters(), "-created_at"),
    "whole_catalog_by_newest_second_page": Browse(
        lambda c, big: BookFilters(), "-created_at", second_page=True
    ),
    "whole_catalog_by_descending_title": Browse(lambda c, big: BookFilters(), "-title"),
    "whole_catalog_by_year": Browse(
        lambda c, big: BookFilters(), "published_year", second_page=True
    ),
    "whole_catalog_by_price_with_a_price_range": Browse(
        lambda c, big: BookFilters(price_min=Decimal("30")), "price", second_page=True
    ),
    "popular_author_by_price": Browse(
        lambda c, big: BookFilters(author_id=c.popular_author_id), "-price", second_page=True
    ),
    "broad_author_fragment_by_year": Browse(
        lambda c, big: BookFilters(author=c.fragment_of_many_authors), "published_year"
    ),
}


async def expected_browse_page(
    filters: BookFilters, sort: str, after: PageKey | None
) -> list[int]:
    """The ids of the page by plain SQL: every match in order, then sliced after the cursor."""
    field = sort.removeprefix("-")
    direction = "DESC" if sort.startswith("-") else "ASC"
    conditions, args = ["TRUE"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    sets = [[c] for c in filters.category_ids]
    if sets and filters.category_mode == "any":
        sets = [[c for ids in sets for c in ids]]
    for ids in sets:
        conditions.append(
            "EXISTS (SELECT 1 FROM book_category bc WHERE bc.book_id = b.id"
            f" AND bc.category_id = ANY({arg(ids)}::integer[]))"
        )
    if filters.author_id is not None:
        conditions.append(f"b.author_id = {arg(filters.author_id)}")
    if filters.author is not None:
        conditions.append(f"strpos(lower(a.name), lower({arg(filters.author)})) > 0")
    for column, low, high in (
        ("published_year", filters.year_min, filters.year_max),
        ("price", filters.price_min, filters.price_max),
    ):
        if low is not None:
            conditions.append(f"b.{column} >= {arg(low)}")
        if high is not None:
            conditions.append(f"b.{column} <= {arg(high)}")
    sql = (
        f"SELECT b.id, b.{field} AS value FROM books b JOIN authors a ON a.id = b.author_id"
        f" WHERE {' AND '.join(conditions)}"
        f" ORDER BY (b.{field} IS NULL), b.{field} {direction}, b.id {direction}"
    )
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        rows = await connection.fetch(sql, *args)
    finally:
        await connection.close()
    keys = [(row["value"], row["id"]) for row in rows]
    start = 0 if after is None else keys.index((after.value, after.id)) + 1
    return [book_id for _, book_id in keys[start : start + PAGE]]


@pytest.fixture(params=list(BROWSE_SHAPES))
def browse(request: pytest.FixtureRequest) -> Browse:
    return BROWSE_SHAPES[request.param]


async def _browse_start(shape: Browse, filters: BookFilters) -> PageKey | None:
    if not shape.second_page:
        return None
    _, after = await list_books(filters, limit=PAGE, sort=sort_order(shape.sort))
    assert after is not None, "the first page should not be the last"
    return after


async def test_a_browsing_page_reads_a_page_not_a_table(
    browse: Browse, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    filters = browse.filters(catalog, await _biggest_categories())
    after = await _browse_start(browse, filters)
    captured.clear()

    books, _ = await list_books(filters, limit=PAGE, after=after, sort=sort_order(browse.sort))

    assert books, "every shape is chosen to have results"
    await assert_served_by_indexes(database, captured)


async def test_a_browsing_page_holds_what_plain_sql_finds(browse: Browse, catalog: Catalog):
    filters = browse.filters(catalog, await _biggest_categories())
    after = await _browse_start(browse, filters)

    books, _ = await list_books(filters, limit=PAGE, after=after, sort=sort_order(browse.sort))

    assert [book["id"] for book in books] == await expected_browse_page(
        filters, browse.sort, after
    )


async def test_every_one_of_two_big_categories_is_a_merge_of_both_not_a_probe_per_book(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    """The two biggest categories are read side by side (``books_in_every_category``),
    whose own statement is checked like the others; a small one with a big one is not."""
    big = await _biggest_categories()
    (small,) = await Book.raw(
        "SELECT category_id FROM book_category GROUP BY 1 ORDER BY count(*), 1 LIMIT 1"
    )
    stats_cache.clear()
    captured.clear()

    await list_books(BookFilters(category_id=tuple(big[:2]), category_mode="all"), limit=PAGE)
    merged = list(captured)
    captured.clear()
    await list_books(
        BookFilters(category_id=(big[0], small["category_id"]), category_mode="all"), limit=PAGE
    )

    assert any("books_in_every_category" in statement.sql for statement in merged)
    assert not any("books_in_every_category" in statement.sql for statement in captured)
    await assert_served_by_indexes(database, merged)


COUNTED_SHAPES = {
    "big_category": lambda big: BookFilters(category_id=big[0]),
    "categories_any": lambda big: BookFilters(category_id=tuple(big)),
    "categories_all": lambda big: BookFilters(category_id=tuple(big[:2]), category_mode="all"),
    "price_range_in_big_category": lambda big: BookFilters(
        category_id=big[0], price_min=Decimal("10"), price_max=Decimal("20")
    ),
    "whole_catalog_by_year_range": lambda big: BookFilters(year_min=1990, year_max=1999),
}


@pytest.mark.parametrize("name", list(COUNTED_SHAPES))
async def test_totals_and_facets_read_a_sample_not_a_table(
    name: str, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    filters = COUNTED_SHAPES[name](await _biggest_categories())
    captured.clear()

    counts = await count_matching(filters, total=True, facets=list(FACETS), facet_limit=20)

    assert counts.total and counts.facets
    await assert_served_by_indexes(database, captured)


@pytest.mark.parametrize("name", list(COUNTED_SHAPES))
async def test_estimated_totals_are_within_a_fifth_of_the_truth(name: str, catalog: Catalog):
    filters = COUNTED_SHAPES[name](await _biggest_categories())
    stats_cache.clear()

    counts = await count_matching(filters, total=True, facets=[], facet_limit=20)

    (truth,) = await Book.raw(
        "SELECT count(*) AS books FROM books b WHERE " + " AND ".join(_plain_conditions(filters))
    )
    assert counts.total is not None
    if counts.total_is_estimate:
        assert abs(counts.total - truth["books"]) <= 0.2 * truth["books"], (counts, truth)
    else:
        assert counts.total == truth["books"]


def _plain_conditions(filters: BookFilters) -> list[str]:
    """``filters`` as SQL with its values written in (they are ints and decimals)."""
    conditions = ["TRUE"]
    sets = [[c] for c in filters.category_ids]
    if sets and filters.category_mode == "any":
        sets = [[c for ids in sets for c in ids]]
    for ids in sets:
        conditions.append(
            "EXISTS (SELECT 1 FROM book_category bc WHERE bc.book_id = b.id"
            f" AND bc.category_id IN ({', '.join(str(int(c)) for c in ids)}))"
        )
    for column, low, high in (
        ("published_year", filters.year_min, filters.year_max),
        ("price", filters.price_min, filters.price_max),
    ):
        if low is not None:
            conditions.append(f"b.{column} >= {Decimal(low)}")
        if high is not None:
            conditions.append(f"b.{column} <= {Decimal(high)}")
    return conditions


COMPLETIONS: dict[str, Callable[[Words], str]] = {
    "a_prefix": lambda w: w.frequent[:3],
    "a_word_and_a_prefix": lambda w: w.title[: len(w.title) - 2],
    "a_misspelt_word": lambda w: _with_typo(w.title.split()[0]) + " ",
}


@pytest.mark.parametrize("completion", list(COMPLETIONS))
async def test_a_completion_reads_a_page_not_a_table(
    completion: str, catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    q = COMPLETIONS[completion](await _pick_words())
    captured.clear()
    assert await suggest(q, limit=8), f"{q!r} should complete to something"
    await assert_served_by_indexes(database, captured)


async def test_a_completion_across_fields_reads_the_searchs_page_not_a_table(
    catalog: Catalog, database: asyncpg.Connection, captured: list[Statement]
):
    # An author's surname (held by thousands of books), then the first letters
    # of a word of one of their titles: no one field holds both, so the
    # search's page of the two fills the answer, bounded by the limit.
    (book,) = await Book.raw(
        "SELECT a.name, s.title FROM book_search s JOIN authors a ON a.id = s.author_id"
        " WHERE (SELECT max(length(t)) FROM unnest(s.title) t) >= 5 ORDER BY s.book_id LIMIT 1"
    )
    surname = book["name"].split()[-2].lower()
    word = max(book["title"], key=len)
    q = f"{surname} {word[:3]}"
    captured.clear()
    offered = await suggest(q, limit=8)
    assert any(item["kind"] == "title" for item in offered), q
    assert any("b.title FROM page" in statement.sql for statement in captured)
    await assert_served_by_indexes(database, captured)
