"""The service's pool: bounded waits, and waiters served in the order they asked."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from bookstore.database import BoundedPool, keep_session


@pytest.fixture
async def one_connection_pool() -> AsyncIterator[asyncpg.Pool]:
    # Released as the service releases them (no reset statement), so a
    # release hands the connection on within one step of the event loop.
    pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=1, max_size=1, reset=keep_session
    )
    try:
        yield pool
    finally:
        await pool.close()


async def order_served(pool: Any, acquire: Any, release: Any) -> list[str]:
    """Three requests wait for the only connection; a fourth asks as it is being released.

    Returns the order in which they got it.
    """
    served: list[str] = []

    async def request(name: str) -> None:
        connection = await acquire()
        served.append(name)
        await connection.fetchval("SELECT 1")
        await release(connection)

    held = await acquire()
    waiting = [asyncio.create_task(request(name)) for name in ("first", "second", "third")]
    await asyncio.sleep(0.05)  # all three are queued
    releasing = asyncio.create_task(release(held))
    await asyncio.sleep(0)  # the release is under way (asyncpg finishes it in a task)...
    newcomer = asyncio.create_task(request("newcomer"))  # ...when a newcomer asks
    await asyncio.wait_for(asyncio.gather(releasing, *waiting, newcomer), timeout=10)
    return served


async def test_waiters_get_a_connection_in_the_order_they_asked(one_connection_pool):
    pool = BoundedPool(one_connection_pool, timeout=5, size=1)

    served = await order_served(pool, pool.acquire, pool.release)

    assert served == ["first", "second", "third", "newcomer"]


async def test_asyncpg_alone_lets_a_newcomer_take_a_waiters_turn(one_connection_pool):
    # Why BoundedPool queues requests itself: the behaviour it corrects.
    served = await order_served(
        one_connection_pool, one_connection_pool.acquire, one_connection_pool.release
    )

    assert served[0] == "newcomer"


async def test_a_wait_longer_than_the_timeout_gives_up_and_keeps_the_turn_order(
    one_connection_pool,
):
    pool = BoundedPool(one_connection_pool, timeout=0.1, size=1)
    held = await pool.acquire()

    with pytest.raises(TimeoutError):
        await pool.acquire()

    await pool.release(held)
    connection = await pool.acquire()  # the timed-out wait left no turn behind
    assert await connection.fetchval("SELECT 1") == 1
    await pool.release(connection)
