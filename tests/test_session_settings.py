"""The API's connections plan once, time out, and run no parallel workers nor JIT,
connected directly or through PgBouncer (BOOKSTORE_TEST_PGBOUNCER)."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI

from bookstore.database import connection
from bookstore.tables import Book


# Known defect, open under issue 12: in CI's PgBouncer run (transaction mode,
# PgBouncer 1.18, connect_query) this test passes alone and after any one
# test of tests/test_write_tokens.py, but fails after that whole file: some
# server connection then answers plan_cache_mode = auto. Not yet explained.
@pytest.mark.xfail(
    bool(os.environ.get("BOOKSTORE_TEST_PGBOUNCER")),
    reason="behind PgBouncer a server connection loses connect_query's settings (issue 12)",
    strict=False,
)
async def test_the_api_connections_carry_the_plan_choices(app: FastAPI) -> None:
    # Several: behind PgBouncer each statement may run on another server connection.
    for _ in range(10):
        async with connection(Book._meta.db) as db:
            assert await db.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            assert await db.fetchval("SHOW statement_timeout") == "5s"
            assert await db.fetchval("SHOW max_parallel_workers_per_gather") == "0"
            assert await db.fetchval("SHOW jit") == "off"
