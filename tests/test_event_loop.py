"""The event loop never blocks on the database.

A request is parked on a row lock inside PostgreSQL; while it waits, fifty
concurrent searches must all be answered. Were any database call blocking
(a sync driver, ``run_sync``), the parked request would freeze the loop and
the searches would finish only after it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
import httpx
from servers import wait_until_blocked_on_a_lock

from bookstore.settings import get_settings


async def test_fifty_searches_finish_while_a_request_waits_on_a_lock(
    client: httpx.AsyncClient,
) -> None:
    author = (await client.post("/authors", json={"name": "Tove Jansson"})).json()
    book = (
        await client.post("/books", json={"title": "Moominland", "author_id": author["id"]})
    ).json()

    locker = await asyncpg.connect(
        os.environ["DATABASE_URL"],
        # If the loop did freeze, the server frees the lock after 10 s and the
        # test fails on its assertions instead of hanging.
        server_settings={"idle_in_transaction_session_timeout": "10s"},
    )
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("SELECT 1 FROM books WHERE id = $1 FOR UPDATE", book["id"])

        parked = asyncio.create_task(client.patch(f"/books/{book['id']}", json={"price": "5.00"}))
        await wait_until_blocked_on_a_lock(locker)

        # At most as many in flight as the pool has connections: what is tested
        # is the loop, not the pool's queue (whose wait budget answers 503 on a
        # loaded machine; tests/test_faults.py covers it). A frozen loop would
        # still answer none of them before the lock is released.
        pool_slots = asyncio.Semaphore(get_settings().pool_max_size - 1)

        async def search() -> httpx.Response:
            async with pool_slots:
                return await client.get("/books", params={"author": "jansson"})

        searches = await asyncio.gather(*(search() for _ in range(50)))
        assert [r.status_code for r in searches] == [200] * 50
        assert all(r.json()["items"][0]["id"] == book["id"] for r in searches)
        assert not parked.done(), "the parked request should still be waiting on its lock"

        await transaction.rollback()
        updated = await asyncio.wait_for(parked, timeout=10)
        assert updated.status_code == 200
        assert updated.json()["price"] == "5.00"
    finally:
        await locker.close()


async def test_admin_sign_ins_hash_passwords_off_the_event_loop(app: object) -> None:
    # One PBKDF2 hash (600,000 rounds) takes a few hundred milliseconds: on
    # the loop, each sign-in would stop it that long.
    from bookstore.admin import create_admin_user
    from bookstore.admin.accounts import StaffUser

    username, password = f"loop-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await create_admin_user(username, password)
    started = time.monotonic()
    StaffUser.hash_password(password)  # what one sign-in would block the loop for
    one_hash_s = time.monotonic() - started
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticker = asyncio.create_task(tick())
    try:
        signed_in = await asyncio.gather(
            StaffUser.login(username, password),
            StaffUser.login(username, "not the password"),
            StaffUser.login(f"no-{username}", password),
        )
    finally:
        ticker.cancel()

    assert signed_in[0] is not None and signed_in[1:] == [None, None]
    # On the loop, each of the three sign-ins would stop it for a whole hash:
    # at least three long stalls. Off it, a loaded machine (CI runs two
    # suites side by side) may still deschedule the loop once for a while;
    # all its long stalls together stay under one hash.
    stalls = [gap for gap in gaps if gap >= one_hash_s / 2]
    assert sum(stalls) < one_hash_s, f"the loop stood still {stalls} s (a hash: {one_hash_s:.2f})"
