"""The benchmark's own database, ``bookstore_bench``, next to the service's.

It lives on the server in use (``DATABASE_URL``'s, else the embedded one) so
the numbers are measured where the service runs, but in a database of its
own so a million synthetic books never land in anyone's working catalog.
It is created, migrated and seeded with the real ``bookstore`` commands,
and kept between runs: reseeding a million books takes most of a minute.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

BENCH_DATABASE = "bookstore_bench"
# Generous: seeding 1,000,000 books takes about 45 s on two cores.
SEED_TIMEOUT_S = 3600
COMMAND_TIMEOUT_S = 300


def with_database(dsn: str, database: str) -> str:
    """``dsn`` with its database name replaced by ``database``."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def database_name(dsn: str) -> str:
    """The database ``dsn`` names: what ``with_database`` replaces."""
    return urlsplit(dsn).path.lstrip("/")


def _bookstore(project_dir: Path, *args: str, env: dict[str, str], timeout: float) -> str:
    """Run the ``bookstore`` command (this interpreter's) and return its output."""
    completed = subprocess.run(
        [sys.executable, "-m", "bookstore.cli", *args],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"bookstore {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return completed.stdout.strip()


def server_dsn(project_dir: Path) -> str:
    """The DSN of the service's database: ``DATABASE_URL``, else ``bookstore db url``."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return _bookstore(project_dir, "db", "url", env=dict(os.environ), timeout=COMMAND_TIMEOUT_S)


async def _create_database_if_missing(dsn: str, database: str) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        exists = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
        return not exists
    finally:
        await connection.close()


async def fetch_value(dsn: str, sql: str) -> object:
    """One value from one query, on a connection of its own."""
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def count_books(dsn: str) -> int:
    return int(asyncio.run(fetch_value(dsn, "SELECT count(*) FROM books")))


def count_search_logs(dsn: str) -> int:
    return int(asyncio.run(fetch_value(dsn, "SELECT count(*) FROM search_logs")))


def active_statements(dsn: str) -> int:
    """Statements running in the benchmark's database, other than this one's.

    A reference app whose statements outlive wrk's run (the floor ranks every
    match of a frequent word, seconds each) keeps PostgreSQL busy after its
    /health answers quickly again.
    """
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND state = 'active'"
        " AND pid <> pg_backend_pid()"
    )
    return int(asyncio.run(fetch_value(dsn, sql)))


def postgres_version(dsn: str) -> str:
    return str(asyncio.run(fetch_value(dsn, "SHOW server_version")))


def prepare_bench_database(
    project_dir: Path, *, books: int, reseed: bool, database: str = BENCH_DATABASE
) -> str:
    """Create, migrate and seed ``database`` (``bookstore_bench``) as needed; return its DSN.

    A database that already holds exactly ``books`` books is reused as it
    is, unless ``reseed`` is set: a copy of a seeded catalog
    (``createdb -T``) is measured without seeding again.
    """
    server = server_dsn(project_dir)
    dsn = with_database(server, database)
    if asyncio.run(_create_database_if_missing(server, database)):
        print(f"Created database {database}.", flush=True)
    env = {**os.environ, "DATABASE_URL": dsn}
    _bookstore(project_dir, "migrate", env=env, timeout=COMMAND_TIMEOUT_S)
    present = count_books(dsn)
    if present == books and not reseed:
        print(f"Reusing {database}: it holds {books:,} books (--reseed to rebuild).")
        return dsn
    print(f"Seeding {database} with {books:,} books (it holds {present:,})...", flush=True)
    started = time.perf_counter()
    output = _bookstore(
        project_dir, "seed", "--books", str(books), "--replace", env=env, timeout=SEED_TIMEOUT_S
    )
    print(f"{output} ({time.perf_counter() - started:.0f} s in all)", flush=True)
    return dsn


# The plain full-text search the floor reference answers ?q= with needs this
# index (../shared/bench/README.md); the product never uses it.
ANCHOR_TITLE_INDEX = (
    "CREATE INDEX IF NOT EXISTS anchor_title_fts ON books"
    " USING gin (to_tsvector('english', title))"
)


async def _execute(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def ensure_anchor_title_index(dsn: str) -> None:
    """Create the floor reference's full-text index on titles, once per bench database.

    It stays: a reseed rebuilds it with the others (its build time counts in the
    seeding time printed), and it costs writes in this database only.
    """
    started = time.perf_counter()
    asyncio.run(_execute(dsn, ANCHOR_TITLE_INDEX))
    print(f"anchor_title_fts ready ({time.perf_counter() - started:.0f} s).", flush=True)
