"""Every test run gets a throwaway database on a real PostgreSQL server.

The server is ``DATABASE_URL`` when set, else the embedded one. The database
is created before the first test, migrated with ``bookstore migrate`` (the
real command), and dropped when the run ends.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from bookstore.embedded import EmbeddedPostgres
from bookstore.settings import Settings


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _server_dsn() -> str:
    settings = Settings()
    if settings.database_url:
        return settings.database_url
    return EmbeddedPostgres(settings.data_dir, settings.database_name).ensure_running()


SERVER_DSN = _server_dsn()
TEST_DATABASE = f"bookstore_test_{uuid.uuid4().hex[:12]}"
TEST_DSN = with_database(SERVER_DSN, TEST_DATABASE)


async def run_on_server(sql: str) -> None:
    connection = await asyncpg.connect(SERVER_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    asyncio.run(run_on_server(f'CREATE DATABASE "{TEST_DATABASE}"'))
    os.environ["DATABASE_URL"] = TEST_DSN
    subprocess.run([sys.executable, "-m", "bookstore.cli", "migrate"], check=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    asyncio.run(run_on_server(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def app() -> AsyncIterator[FastAPI]:
    from bookstore.app import create_app

    application = create_app()
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
async def empty_catalog(app: FastAPI) -> None:
    from bookstore.tables import Book

    await Book.raw(
        "TRUNCATE books, authors, categories, book_category, search_logs RESTART IDENTITY CASCADE"
    )


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """The DSN of a second, empty database on the same server, dropped afterwards."""
    name = f"bookstore_scratch_{uuid.uuid4().hex[:12]}"
    await run_on_server(f'CREATE DATABASE "{name}"')
    yield with_database(SERVER_DSN, name)
    await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # ASGITransport runs the app to completion, background tasks included,
    # before the response is returned: search log rows exist when it does.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
