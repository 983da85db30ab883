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
from factories import create_author, create_book, search, titles
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


async def rename_then_edit(
    client: httpx.AsyncClient, *, if_match: bool = False
) -> tuple[httpx.Response, httpx.Response, int]:
    """An author renamed, and one of its two books edited while the rename waits.

    The rename takes the catalog version, then its books in id order; it
    waits for the first, held here as an import's indexer pass holds its
    books. The edit of the second book (with ``If-Match`` when ``if_match``)
    comes meanwhile.
    Once the first book is free, the rename asks for the second. Before
    migration 2026-11-29T11:10 the edit held that book and waited for the
    version at the end of its statement: a deadlock, and the edit was
    cancelled (500). Returns both answers and the edited book's id.
    """
    author = await create_author(client, "Mira Vale")
    first = await create_book(client, title="Quiet Orchard", author_id=author["id"])
    second = await create_book(client, title="Copper Kettle", author_id=author["id"])
    assert first["id"] < second["id"]
    edit_headers = {}
    if if_match:
        edit_headers["If-Match"] = (await client.get(f"/books/{second['id']}")).headers["ETag"]
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
                f"/books/{second['id']}", json={"title": "Copper Teapot"}, headers=edit_headers
            )
        )
        await waiting_on_locks(observer, 2)
        await holder.execute("COMMIT")
        rename, edit = await asyncio.gather(renamed, edited)
    finally:
        await holder.close()
        await observer.close()
    return rename, edit, second["id"]


async def test_a_rename_and_an_edit_of_one_of_its_books_both_succeed(
    client: httpx.AsyncClient,
) -> None:
    rename, edit, _ = await rename_then_edit(client)
    assert rename.status_code == 200, rename.text
    assert edit.status_code == 200, edit.text
    assert sorted(titles(await search(client, "zelda quill"))) == [
        "Copper Teapot",
        "Quiet Orchard",
    ]
    assert titles(await search(client, "mira vale")) == []


async def test_a_rename_and_a_conditional_edit_of_one_of_its_books(
    client: httpx.AsyncClient,
) -> None:
    # An edit with If-Match locks its book before it writes anything, so
    # that the version check and the write are one step. It takes the
    # catalog version first, waits behind the rename, then finds that the
    # book it was sent no longer is (its author's name is part of it): 412,
    # an answer the client can act on.
    rename, edit, book_id = await rename_then_edit(client, if_match=True)
    assert rename.status_code == 200, rename.text
    assert edit.status_code == 412, edit.text
    book = (await client.get(f"/books/{book_id}")).json()
    assert (book["title"], book["author"]["name"]) == ("Copper Kettle", "Zelda Quill")
