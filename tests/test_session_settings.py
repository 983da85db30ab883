"""The API's connections plan once, time out, and run no parallel workers nor JIT,
connected directly or through PgBouncer (BOOKSTORE_TEST_PGBOUNCER)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from servers import bookstore

from bookstore.database import connection, transaction
from bookstore.settings import get_settings
from bookstore.tables import Book

EXPECTED = {
    "plan_cache_mode": "force_generic_plan",
    "statement_timeout": "5s",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}


async def settings_of_one_connection() -> dict[str, str]:
    async with connection(Book._meta.db) as db:
        return {name: await db.fetchval(f"SHOW {name}") for name in EXPECTED}


async def settings_of_every_connection() -> list[dict[str, str]]:
    """What each of the pool's connections answers, all held at once.

    Behind PgBouncer in transaction mode a statement outside a transaction
    may run on any server connection; transactions held open together run
    on as many different ones.
    """
    started = asyncio.Event()
    holding: list[int] = []
    size = get_settings().pool_max_size

    async def one() -> dict[str, str]:
        async with transaction(Book._meta.db) as held:
            holding.append(1)
            if len(holding) == size:
                started.set()
            await asyncio.wait_for(started.wait(), timeout=10)
            return {name: await held.connection.fetchval(f"SHOW {name}") for name in EXPECTED}

    return list(await asyncio.gather(*(one() for _ in range(size))))


async def test_the_api_connections_carry_the_plan_choices(app: FastAPI) -> None:
    # Several: behind PgBouncer each statement may run on another server connection.
    for _ in range(10):
        assert await settings_of_one_connection() == EXPECTED
    assert await settings_of_every_connection() == [EXPECTED] * get_settings().pool_max_size


async def test_a_command_run_beside_the_api_leaves_the_api_connections_as_they_were(
    app: FastAPI,
) -> None:
    # The command line's pool once reset each connection it gave back
    # (asyncpg's RESET ALL): behind PgBouncer that undid connect_query's
    # settings on a server connection the API then used.
    for _ in range(2):
        listed = await asyncio.to_thread(bookstore, "token", "list")
        assert listed.returncode == 0, listed.stderr
        for _ in range(5):
            assert await settings_of_one_connection() == EXPECTED
    assert await settings_of_every_connection() == [EXPECTED] * get_settings().pool_max_size


async def test_a_long_statement_is_prepared_once_and_kept(app: FastAPI) -> None:
    # The level walk of five or more terms is over asyncpg's default 15 KiB
    # limit, past which a statement is planned anew on every execution.
    if get_settings().pgbouncer or get_settings().db_statement_cache_size == 0:
        return  # no statement is kept on a connection shared through a pooler
    marker = "long-statement-kept"
    statement = f"SELECT 1 /* {marker} {'x' * 20_000} */"
    async with connection(Book._meta.db) as db:
        assert await db.fetchval(statement) == 1
        assert await db.fetchval(statement) == 1
        kept = await db.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1",
            f"%{marker}%",
        )
    assert kept == 1
