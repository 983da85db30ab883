"""Small async helpers that build test data through the HTTP API.

Every helper goes through the real routes and asserts the 201, so a test that
uses them also checks that the plain create path works.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bookstore.catalog.filters import BookFilters
from bookstore.catalog.search import TextQuery, search_books
from bookstore.catalog_version import READ_VERSION

_sequence = itertools.count(1)

# conftest.py creates the run's API token (named "tests") and puts it here.
TEST_TOKEN_VARIABLE = "BOOKSTORE_TEST_API_TOKEN"


def write_headers() -> dict[str, str]:
    """``Authorization`` with the run's API token: every write to the API needs it."""
    return {"Authorization": f"Bearer {os.environ[TEST_TOKEN_VARIABLE]}"}


def unique(prefix: str) -> str:
    """``prefix`` plus a number never handed out before in this run."""
    return f"{prefix} {next(_sequence)}"


async def create_author(client: httpx.AsyncClient, name: str | None = None, **fields: Any) -> dict:
    body = {"name": name or unique("Author"), **fields}
    response = await client.post("/authors", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_category(
    client: httpx.AsyncClient, name: str | None = None, **fields: Any
) -> dict:
    body = {"name": name or unique("Category"), **fields}
    response = await client.post("/categories", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_book(client: httpx.AsyncClient, **fields: Any) -> dict:
    """A book; creates an author for it unless ``author_id`` is given."""
    if "author_id" not in fields:
        fields["author_id"] = (await create_author(client))["id"]
    body = {"title": unique("Book"), **fields}
    response = await client.post("/books", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict:
    """The answer of ``GET /books?q=``, asserting its 200."""
    response = await client.get("/books", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def titles(page: dict) -> list[str]:
    return [book["title"] for book in page["items"]]


async def suggested(client: httpx.AsyncClient, text: str, **params: Any) -> list[tuple[str, str]]:
    """The (kind, text) of each completion ``GET /books/suggest`` offers, asserting its 200."""
    response = await client.get("/books/suggest", params={"q": text, **params})
    assert response.status_code == 200, response.text
    return [(item["kind"], item["text"]) for item in response.json()["items"]]


async def walk_pages(
    client: httpx.AsyncClient, url: str, params: dict[str, Any], limit: int
) -> list[dict]:
    """Every item of a listing, page by page, following ``next_cursor``."""
    items: list[dict] = []
    params = {**params, "limit": limit}
    for _ in range(1000):
        response = await client.get(url, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
    raise AssertionError("pagination never ended")


async def scored_pages(q: str, limit: int = 4) -> list[list[tuple[int, int]]]:
    """Every page of the search ``q``: (id, score) of each book, page by page.

    From ``search_books`` itself, not the API: the response cache would
    answer the second reading of a page at the same catalog version.
    """
    pages = []
    after = None
    for _ in range(100):
        result = await search_books(BookFilters(), TextQuery(q), limit=limit, after=after)
        pages.append([(book["id"], book["score"]) for book in result.books])
        if result.next_key is None:
            return pages
        after = result.next_key
    raise AssertionError("pagination never ended")


async def list_all_books(client: httpx.AsyncClient) -> list[dict]:
    """Every book in the catalog (no filters: no search is logged)."""
    return await walk_pages(client, "/books", {}, 100)


async def count_books(client: httpx.AsyncClient) -> int:
    return len(await list_all_books(client))


def expect_error(response: httpx.Response, status: int) -> Any:
    """Assert an error ``status`` with a JSON body holding ``detail``; return the detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "detail" in body, body
    return body["detail"]


def edit_cursor(cursor: str) -> str:
    """``cursor`` with its first character changed (and still URL-safe base64)."""
    first = "B" if cursor[0] == "A" else "A"
    return first + cursor[1:]


@asynccontextmanager
async def server_like_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 response a real server would send for an unhandled error.

    The ``client`` fixture re-raises such errors in the test instead.
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=write_headers()
    ) as http:
        yield http


# A JSON text holding a lone UTF-16 surrogate: valid JSON, but no valid Unicode string.
LONE_SURROGATE = "\\ud800"


@dataclass(frozen=True)
class Statement:
    sql: str
    args: list[Any]


def record_statements(monkeypatch: Any, *, ignore: object = None) -> list[Statement]:
    """Every statement sent through asyncpg from now on.

    ``Connection._execute`` is where asyncpg sends every statement with
    parameters (``fetch``, ``fetchrow``, ``fetchval``, ``execute`` with
    arguments); ``execute`` without arguments uses the simple protocol
    instead. Both Piccolo and the data layer's own SQL end there, whichever
    path a query takes. ``ignore``: a connection of the test's own. The
    catalog version's poll (``bookstore.catalog_version``), a background
    task of the service's, is never recorded: it belongs to no request.
    """
    statements: list[Statement] = []
    connection_class = asyncpg.connection.Connection
    send_extended = connection_class._execute
    send_simple = connection_class.execute

    async def extended(self: Any, query: str, args: Any, *rest: Any, **kwargs: Any) -> Any:
        if self is not ignore and query != READ_VERSION:
            statements.append(Statement(query, list(args)))
        return await send_extended(self, query, args, *rest, **kwargs)

    async def simple(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if self is not ignore and not args and query != READ_VERSION:
            statements.append(Statement(query, []))
        return await send_simple(self, query, *args, **kwargs)

    monkeypatch.setattr(connection_class, "_execute", extended)
    monkeypatch.setattr(connection_class, "execute", simple)
    return statements


# Where level_walk._walks_text puts, as array text, each walk's words (NULL
# in its unused slots) and each walk's partner word (NULL for none).
_WALKS_WORDS_ARGUMENT = 0
_PARTNERS_ARGUMENT = 4


def walked_words(statements: Iterable[Statement]) -> set[str]:
    """The words the level walks among ``statements`` walk or meet: their words and partners.

    A prefix walked as its own word shows here as ``P*`` (``"sal*"``).
    """
    return {
        word.strip('"')
        for statement in statements
        if "WITH RECURSIVE branch" in statement.sql
        for array in (statement.args[_WALKS_WORDS_ARGUMENT], statement.args[_PARTNERS_ARGUMENT])
        for word in array.strip("{}").split(",")
        if word != "NULL"
    }


async def write_waiting_entries(connection: asyncpg.Connection) -> None:
    """An author, a category and twenty books in it, written in SQL: with a GIN index that
    keeps a pending list, their entries wait there (a migration test's "before")."""
    author = await connection.fetchval(
        "INSERT INTO authors (name) VALUES ('Ann Lee') RETURNING id"
    )
    category = await connection.fetchval(
        "INSERT INTO categories (name, slug) VALUES ('Mystery', 'mystery') RETURNING id"
    )
    for n in range(20):
        book = await connection.fetchval(
            "INSERT INTO books (title, author_id) VALUES ($1, $2) RETURNING id",
            f"Last Map {n}",
            author,
        )
        await connection.execute(
            "INSERT INTO book_category (book_id, category_id) VALUES ($1, $2)", book, category
        )


async def pending_pages_cleaned(
    connection: asyncpg.Connection, indexes: Iterable[str]
) -> dict[str, int]:
    """Each GIN index's pending pages, which this moves into the index (0: it had none)."""
    return {
        name: await connection.fetchval("SELECT gin_clean_pending_list($1::regclass)", name)
        for name in indexes
    }
