"""Writes that meet: each waits for the other, neither fails.

Every write to the catalog bumps ``catalog_version``, one row, so writers
take turns (migration 2026-11-29T02:30). A rename also locks the books it
reindexes (2026-11-29T10:30). Two writers that take the same locks in
opposite orders deadlock, and PostgreSQL then cancels one of them: a 500
for a customer whose edit was valid. These tests hold each lock long enough
for the other writer to queue behind it.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
import httpx
from factories import create_author, create_book
from servers import wait_until_blocked_on_a_lock


async def waiting_on_locks(observer: asyncpg.Connection, count: int) -> None:
    """Return once ``count`` statements of this database wait on a lock."""
    for _ in range(1000):
        waiting = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} statements never waited on locks")


async def titles_found(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get("/books", params={"q": query})
    assert response.status_code == 200, response.text
    return sorted(book["title"] for book in response.json()["items"])


async def test_a_rename_and_an_edit_of_one_of_its_books_both_succeed(
    client: httpx.AsyncClient,
) -> None:
    # The rename takes the catalog version, then its books in id order; it
    # waits for the first, held here as an import's indexer pass holds its
    # books. Meanwhile an edit of the second book updates its row. Before
    # migration 2026-11-29T11:30 the edit locked the row first and asked for
    # the version at the end of its statement: once the first book came
    # free the rename waited for the edit's row and the edit for the
    # rename's version, and the edit was cancelled (500).
    author = await create_author(client, "Mira Vale")
    first = await create_book(client, title="Quiet Orchard", author_id=author["id"])
    second = await create_book(client, title="Copper Kettle", author_id=author["id"])
    assert first["id"] < second["id"]
    holder = await asyncpg.connect(os.environ["DATABASE_URL"])
    observer = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM books WHERE id = $1 FOR UPDATE", first["id"])
        renamed = asyncio.create_task(
            client.patch(f"/authors/{author['id']}", json={"name": "Zelda Quill"})
        )
        await wait_until_blocked_on_a_lock(observer)
        edited = asyncio.create_task(
            client.patch(f"/books/{second['id']}", json={"title": "Copper Teapot"})
        )
        await waiting_on_locks(observer, 2)
        await holder.execute("COMMIT")
        rename, edit = await asyncio.gather(renamed, edited)
    finally:
        await holder.close()
        await observer.close()
    assert rename.status_code == 200, rename.text
    assert edit.status_code == 200, edit.text
    assert await titles_found(client, "zelda quill") == ["Copper Teapot", "Quiet Orchard"]
    assert await titles_found(client, "mira vale") == []


async def test_a_rename_and_a_conditional_edit_of_one_of_its_books(
    client: httpx.AsyncClient,
) -> None:
    # An edit with If-Match locks its book before it writes anything, so
    # that the version check and the write are one step. It now takes the
    # catalog version first and waits behind the rename, then finds that the
    # book it was sent no longer is (its author's name is part of it): 412,
    # the answer the client can act on. Before, it held the book the rename
    # waited for and was cancelled: 500.
    author = await create_author(client, "Mira Vale")
    first = await create_book(client, title="Quiet Orchard", author_id=author["id"])
    second = await create_book(client, title="Copper Kettle", author_id=author["id"])
    etag = (await client.get(f"/books/{second['id']}")).headers["ETag"]
    holder = await asyncpg.connect(os.environ["DATABASE_URL"])
    observer = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM books WHERE id = $1 FOR UPDATE", first["id"])
        renamed = asyncio.create_task(
            client.patch(f"/authors/{author['id']}", json={"name": "Zelda Quill"})
        )
        await wait_until_blocked_on_a_lock(observer)
        edited = asyncio.create_task(
            client.patch(
                f"/books/{second['id']}",
                json={"title": "Copper Teapot"},
                headers={"If-Match": etag},
            )
        )
        await waiting_on_locks(observer, 2)
        await holder.execute("COMMIT")
        rename, edit = await asyncio.gather(renamed, edited)
    finally:
        await holder.close()
        await observer.close()
    assert rename.status_code == 200, rename.text
    assert edit.status_code == 412, edit.text
    book = (await client.get(f"/books/{second['id']}")).json()
    assert (book["title"], book["author"]["name"]) == ("Copper Kettle", "Zelda Quill")
