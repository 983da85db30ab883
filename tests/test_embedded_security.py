"""Nobody else on the machine gets into the embedded PostgreSQL, or into the user's directories."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from conftest import EXTERNAL_SERVER
from servers import bookstore

from bookstore.embedded import EmbeddedPostgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        EXTERNAL_SERVER,
        reason="embedded server only: with DATABASE_URL, authentication is the external "
        "server's own",
    ),
]

# initdb's pg_hba.conf for --auth=trust, as every data directory made before
# passwords has it.
TRUST_HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
host    replication     all             ::1/128                 trust
"""


def without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    return parts._replace(netloc=f"postgres@{parts.hostname}:{parts.port}").geturl()


async def query(dsn: str, sql: str) -> object:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def is_refused(dsn: str) -> bool:
    try:
        await query(dsn, "SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        return True
    return False


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *command], capture_output=True, text=True
    )


@pytest.fixture
def server(server_dir: Path) -> Iterator[EmbeddedPostgres]:
    embedded = EmbeddedPostgres(server_dir / "store")
    yield embedded
    embedded.stop()


async def test_a_new_server_asks_every_client_for_its_password(server: EmbeddedPostgres) -> None:
    dsn = await asyncio.to_thread(server.ensure_running)

    assert urlsplit(dsn).password == server.password_file.read_text().strip()
    assert await query(dsn, "SELECT current_user") == "postgres"
    assert await is_refused(without_password(dsn))
    assert await is_refused(dsn.replace(urlsplit(dsn).password or "", "guessed"))
    file = server.password_file.stat()
    assert stat.S_IMODE(file.st_mode) == 0o600
    assert file.st_uid == os.geteuid()
    assert "trust" not in (server.pgdata / "pg_hba.conf").read_text()


async def test_a_server_made_before_passwords_is_upgraded_in_place_and_keeps_its_data(
    server: EmbeddedPostgres,
) -> None:
    # The state main left: pg_hba.conf trusting every local user, no password
    # file, no password on the superuser; the server still running.
    await asyncio.to_thread(server.ensure_running)
    await asyncio.to_thread(server.stop)
    (server.pgdata / "pg_hba.conf").write_text(TRUST_HBA)
    server.password_file.unlink()
    await asyncio.to_thread(server._start)
    trusted = f"postgresql://postgres@127.0.0.1:{server.port}/bookstore"
    await query(trusted, "ALTER ROLE postgres PASSWORD NULL")
    await query(trusted, "CREATE TABLE kept AS SELECT 'the data of before' AS note")

    dsn = await asyncio.to_thread(server.ensure_running)

    assert await query(dsn, "SELECT note FROM kept") == "the data of before"
    assert await is_refused(trusted)
    assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600
    assert await asyncio.to_thread(server.ensure_running) == dsn  # upgraded once


async def test_bookstore_db_url_prints_a_url_with_the_password_that_connects(
    server_dir: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BOOKSTORE_DATA_DIR"] = str(server_dir / "store")
    try:
        printed = bookstore("db", "url", env=env)
        assert printed.returncode == 0, printed.stderr
        dsn = printed.stdout.strip()
        assert "\n" not in dsn  # the URL alone: DSN=$(bookstore db url)

        assert urlsplit(dsn).password
        assert await query(dsn, "SELECT current_database()") == "bookstore"
    finally:
        bookstore("db", "stop", env=env)


@pytest.mark.skipif(os.geteuid() != 0, reason="what a server started by root changes")
async def test_as_root_the_server_user_may_traverse_but_no_user_may_list_the_parents(
    server_dir: Path,
) -> None:
    parent = server_dir / "home"
    parent.mkdir(mode=0o700)
    data_dir = parent / "store"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BOOKSTORE_DATA_DIR"] = str(data_dir)
    try:
        printed = bookstore("db", "url", env=env)
        assert printed.returncode == 0, printed.stderr
        assert await query(printed.stdout.strip(), "SELECT 1") == 1
    finally:
        bookstore("db", "stop", env=env)

    said = [line for line in printed.stderr.splitlines() if line.startswith("bookstore:")]
    assert len(said) == 1, printed.stderr
    assert str(parent) in said[0] and "traverse" in said[0]
    assert stat.S_IMODE(parent.stat().st_mode) == 0o701  # traverse only, for others
    assert as_nobody("ls", str(parent)).returncode != 0
    assert as_nobody("ls", str(data_dir)).returncode != 0
    assert as_nobody("cat", str(data_dir / "password")).returncode != 0
    assert as_nobody("ls", str(data_dir / "pgdata")).returncode != 0
