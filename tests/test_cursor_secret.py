"""Cursors are signed with a key of this installation, stored in the database, shared by all."""

from __future__ import annotations

import asyncio

import httpx
from factories import create_book, expect_error, record_statements
from fastapi import FastAPI
from servers import running_server

from bookstore.api.books import book_page_scope
from bookstore.catalog import BookFilters
from bookstore.installation_secrets import CURSOR_SECRET, installation_secret
from bookstore.pagination import SortKey, encode_cursor
from bookstore.tables import InstallationSecret

# The constant every installation used before the key was generated.
FORMER_PUBLIC_DEFAULT = "bookstore-cursor"


async def stored_cursor_secret() -> str:
    rows = await InstallationSecret.select(InstallationSecret.value).where(
        InstallationSecret.name == CURSOR_SECRET
    )
    assert len(rows) == 1, rows
    return str(rows[0]["value"])


async def first_page_cursor(client: httpx.AsyncClient) -> str:
    for _ in range(3):
        await create_book(client)
    page = (await client.get("/books", params={"limit": 1})).json()
    assert page["next_cursor"] is not None
    return str(page["next_cursor"])


async def test_migrate_generates_a_random_key_that_the_app_signs_with(app: FastAPI) -> None:
    stored = await stored_cursor_secret()  # conftest ran `bookstore migrate`

    assert len(stored) >= 43  # 256 bits, URL-safe base64
    assert stored != FORMER_PUBLIC_DEFAULT
    assert app.state.cursor_secret == stored
    assert await installation_secret(CURSOR_SECRET) == stored  # generated once, then kept


async def test_a_cursor_signed_with_another_key_is_422(client: httpx.AsyncClient) -> None:
    await first_page_cursor(client)
    forged = encode_cursor(
        SortKey("", 1), scope=book_page_scope(BookFilters()), secret=FORMER_PUBLIC_DEFAULT
    )

    response = await client.get("/books", params={"cursor": forged})

    assert "cursor" in expect_error(response, 422)


async def test_concurrent_first_uses_agree_on_one_key() -> None:
    name = "test-concurrent-key"
    await InstallationSecret.delete().where(InstallationSecret.name == name)
    try:
        keys = await asyncio.gather(*(installation_secret(name) for _ in range(8)))

        assert len(set(keys)) == 1
        assert await InstallationSecret.count().where(InstallationSecret.name == name) == 1
    finally:
        await InstallationSecret.delete().where(InstallationSecret.name == name)


async def test_searches_never_read_the_key_from_the_database(
    client: httpx.AsyncClient, monkeypatch: object
) -> None:
    cursor = await first_page_cursor(client)
    recorded = record_statements(monkeypatch)

    response = await client.get("/books", params={"limit": 1, "cursor": cursor})

    assert response.status_code == 200
    assert not [s.sql for s in recorded if "installation_secrets" in s.sql]


async def test_every_worker_accepts_the_cursors_of_the_others(client: httpx.AsyncClient) -> None:
    # Another process on the same database: another worker, or another host.
    cursor = await first_page_cursor(client)
    expected = (await client.get("/books", params={"limit": 1, "cursor": cursor})).json()

    with running_server(timeout_s=120) as other:
        async with httpx.AsyncClient(base_url=other.url) as http:
            response = await http.get("/books", params={"limit": 1, "cursor": cursor})

    assert response.status_code == 200, response.text
    assert response.json()["items"] == expected["items"]


async def test_bookstore_cursor_secret_overrides_the_stored_key(
    client: httpx.AsyncClient,
) -> None:
    cursor = await first_page_cursor(client)
    pinned = "an operator's own key, the same on every host"
    signed_with_pinned = encode_cursor(
        SortKey("", 1), scope=book_page_scope(BookFilters()), secret=pinned
    )

    with running_server(env={"BOOKSTORE_CURSOR_SECRET": pinned}, timeout_s=120) as pinned_server:
        async with httpx.AsyncClient(base_url=pinned_server.url) as http:
            refused = await http.get("/books", params={"cursor": cursor})
            accepted = await http.get("/books", params={"cursor": signed_with_pinned})

    assert "cursor" in expect_error(refused, 422)
    assert accepted.status_code == 200, accepted.text
