"""The API's connections plan once, time out, and run no parallel workers nor JIT,
connected directly or through PgBouncer (BOOKSTORE_TEST_PGBOUNCER)."""

from __future__ import annotations

from fastapi import FastAPI

from bookstore.database import connection
from bookstore.tables import Book


async def test_the_api_connections_carry_the_plan_choices(app: FastAPI) -> None:
    # Several: behind PgBouncer each statement may run on another server connection.
    for _ in range(10):
        async with connection(Book._meta.db) as db:
            assert await db.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            assert await db.fetchval("SHOW statement_timeout") == "5s"
            assert await db.fetchval("SHOW max_parallel_workers_per_gather") == "0"
            assert await db.fetchval("SHOW jit") == "off"
