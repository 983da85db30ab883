"""The service's pool: bounded waits, waiters served in turn, nothing lost on the way."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from piccolo.engine.postgres import PostgresEngine

from bookstore.database import (
    BoundedPool,
    create_engine,
    keep_session,
    ping,
    start_pool,
    transaction,
)
from bookstore.settings import Settings


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


@pytest.fixture
async def engine_of_one() -> AsyncIterator[PostgresEngine]:
    """A Piccolo engine on the service's pool wrapper, one connection."""
    settings = Settings(pool_min_size=1, pool_max_size=1, db_acquire_timeout=0.5)
    engine = create_engine(os.environ["DATABASE_URL"])
    await start_pool(engine, settings)
    try:
        yield engine
    finally:
        try:
            # A connection never given back would make close() wait forever.
            await asyncio.wait_for(engine.close_connection_pool(), timeout=5)
        except TimeoutError:
            engine.pool.terminate()


async def test_a_transaction_cancelled_at_any_point_gives_its_connection_back(engine_of_one):
    async def write() -> None:
        async with transaction(engine_of_one):
            await engine_of_one.run_ddl("SELECT 1")

    # Cancelled after 0, 1, 2... steps of the event loop: while waiting for the
    # connection, during BEGIN, inside the transaction, during COMMIT.
    for steps in range(12):
        task = asyncio.create_task(write())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        # The only connection, and its turn, are back: this would time out.
        connection = await engine_of_one.pool.acquire()
        assert await connection.fetchval("SELECT 1") == 1, steps
        await engine_of_one.pool.release(connection)


async def test_a_ping_gives_up_in_time_on_a_server_that_stopped_answering(one_connection_pool):
    connection = await one_connection_pool.acquire()
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    await one_connection_pool.release(connection)

    os.kill(backend, signal.SIGSTOP)  # the server process freezes, its socket stays open
    try:
        started = time.monotonic()
        pinging = asyncio.create_task(ping(one_connection_pool, 0.3))
        # asyncio.wait, not wait_for: a ping stuck in its release must not hang the test.
        done, _ = await asyncio.wait({pinging}, timeout=5)
        elapsed = time.monotonic() - started
    finally:
        os.kill(backend, signal.SIGCONT)
    outcome = await asyncio.gather(pinging, return_exceptions=True)

    assert done, "the ping waited for the frozen server"
    assert elapsed < 1, f"ping returned after {elapsed:.2f} s"
    assert isinstance(outcome[0], TimeoutError), outcome
    await ping(one_connection_pool, 2)  # a new connection replaces the abandoned one
