"""Every test run gets a throwaway database on a real PostgreSQL server.

The server is ``DATABASE_URL`` when set, else the embedded one. The database
is created before the first test, migrated with ``bookstore migrate`` (the
real command), and dropped when the run ends.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from factories import TEST_TOKEN_VARIABLE, write_headers
from fastapi import FastAPI
from pgbouncer import PgBouncer, start_pgbouncer

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
# DATABASE_URL named the server: what only the embedded one does (its
# authentication, its files) is not tested against it.
EXTERNAL_SERVER = bool(Settings().database_url)
TEST_DATABASE = f"bookstore_test_{uuid.uuid4().hex[:12]}"
TEST_DSN = with_database(SERVER_DSN, TEST_DATABASE)


async def run_on_server(sql: str) -> None:
    connection = await asyncpg.connect(SERVER_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fetch_on(dsn: str, sql: str) -> list[asyncpg.Record]:
    """``sql``'s rows, read on a connection of its own to the database ``dsn`` names."""
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(sql)
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    asyncio.run(run_on_server(f'CREATE DATABASE "{TEST_DATABASE}"'))
    os.environ["DATABASE_URL"] = TEST_DSN
    subprocess.run([sys.executable, "-m", "bookstore.cli", "migrate"], check=True)
    # Writes need an API token: one for the run, made by the real command
    # (which prints it alone on stdout), read back by factories.write_headers.
    created = subprocess.run(
        [sys.executable, "-m", "bookstore.cli", "token", "create", "tests"],
        check=True,
        capture_output=True,
        text=True,
    )
    os.environ[TEST_TOKEN_VARIABLE] = created.stdout.strip()
    if os.environ.get("BOOKSTORE_TEST_PGBOUNCER"):
        _serve_through_pgbouncer()


# Set when the run goes through PgBouncer (BOOKSTORE_TEST_PGBOUNCER=1, .ci/run).
PGBOUNCER: list[PgBouncer] = []


def _serve_through_pgbouncer() -> None:
    """From here on the service connects through PgBouncer in transaction mode.

    Migrations and the token were made directly, as a deployment runs them
    (docs/deployment.md); TEST_DSN, used by tests for their own
    connections, stays direct.
    """
    bouncer = start_pgbouncer(SERVER_DSN, TEST_DATABASE)
    PGBOUNCER.append(bouncer)
    os.environ["DATABASE_URL"] = bouncer.url
    os.environ["BOOKSTORE_PGBOUNCER"] = "true"
    os.environ["BOOKSTORE_DB_STATEMENT_CACHE_SIZE"] = (
        "100" if bouncer.keeps_prepared_statements else "0"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    for bouncer in PGBOUNCER:
        bouncer.stop()
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

    # Not an API statement: the API's 5 s statement timeout does not apply. A
    # TRUNCATE of a dozen tables and the log's partitions waits for its WAL to
    # be flushed, which took over 5 s while the server wrote a 3 GB database
    # copy (2026-11-29, 13 setup errors).
    async with Book._meta.db.transaction():
        await Book.raw("SET LOCAL statement_timeout = '60s'")
        await Book.raw(
            "TRUNCATE books, authors, categories, book_category, search_logs,"
            " search_log_hours, search_log_days, search_log_terms_hourly,"
            " search_log_terms_daily, admin_login_attempts RESTART IDENTITY CASCADE"
        )
    # The catalog's statistics are kept a minute per process (``stats_cache``):
    # an earlier test's 100,000 books would still size this test's totals and
    # facets. Each test reads them afresh, as a server started on its catalog.
    from bookstore.catalog.statistics import stats_cache

    stats_cache.clear()


@pytest.fixture
def force_walk(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to send every search of several terms to the level walk, not the GIN scan.

    A small shelf's few matches take the scan (``plans.gin_first``):
    both of its bounds, for any words and for two terms with a common word,
    are set below any guess, in the module whose ``gin_first`` the search
    calls (it reads them from its own module's globals).
    """
    from bookstore.catalog import search
    from bookstore.catalog.search import plans

    def force() -> None:
        assert search.gin_first is plans.gin_first
        monkeypatch.setattr(plans, "GIN_FIRST_MATCHES", -1.0)
        monkeypatch.setattr(plans, "GIN_FIRST_COMMON_MATCHES", -1.0)

    return force


@pytest.fixture
def prefix_postings_off() -> Callable[[], AbstractContextManager[None]]:
    """``with prefix_postings_off():`` no prefix is walked as its own word (``P*``).

    The search walks a prefix's completions one by one, as it does when the
    prefix's list is stale: the pages to compare a walk of ``P*`` with.
    """
    from bookstore.catalog.search import vocabulary

    @contextmanager
    def switched_off() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(vocabulary, "_starred", lambda *_: None)
            yield

    return switched_off


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """The DSN of a second, empty database on the same server, dropped afterwards."""
    name = f"bookstore_scratch_{uuid.uuid4().hex[:12]}"
    await run_on_server(f'CREATE DATABASE "{name}"')
    yield with_database(SERVER_DSN, name)
    await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A fresh directory for an embedded PostgreSQL of a test's own.

    Not pytest's tmp_path: pytest resets its base directory to mode 0700 when
    any other pytest session starts, which locks out the unprivileged user
    the server runs as when the tests run as root.
    """
    path = Path(tempfile.mkdtemp(prefix="bookstore-test-server-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # ASGITransport runs the app to completion, background tasks included,
    # before the response is returned. Search logs are written in batches by
    # a writer task; flushing after each response makes their rows visible
    # as soon as a test has its answer (test_search_logs.py also checks the
    # writer on its own).
    async def flush_search_logs(response: httpx.Response) -> None:
        await app.state.search_logger.flush()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers=write_headers(),  # the run's API token: writes need one
        event_hooks={"response": [flush_search_logs]},
    ) as http:
        yield http
