"""Read replicas, for real: a primary, a streaming replica of it, and the service.

Both servers are embedded ones of this module's own (``pg_basebackup -R``,
the pgserver wheel's binaries) on free ports, whatever DATABASE_URL the
suite runs on. The service runs with the cache off, so that every read
reaches a database and the tests can see which.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from servers import Server, bookstore, running_server

from bookstore.embedded import EmbeddedPostgres

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("BOOKSTORE_TEST_PGBOUNCER")),
    reason="needs servers of its own, not the pooler's",
)


@dataclass
class Cluster:
    primary: EmbeddedPostgres
    primary_dsn: str
    replica_dsn: str
    server: Server
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def replica_command(self, action: str) -> str:
        """``bookstore db replica start|stop``, as a user runs it on the embedded default."""
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["BOOKSTORE_DATA_DIR"] = str(self.primary.data_dir)
        env["BOOKSTORE_DATABASE_NAME"] = self.primary.database
        done = bookstore("db", "replica", action, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not tmp_path: see conftest.server_dir.
    directory = Path(tempfile.mkdtemp(prefix="bookstore-test-replicas-"))
    primary = EmbeddedPostgres(directory / "data", database="bookstore")
    try:
        primary_dsn = primary.ensure_running()
        env = {**os.environ, "DATABASE_URL": primary_dsn}
        assert bookstore("migrate", env=env).returncode == 0
        token = bookstore("token", "create", "replicas", env=env).stdout.strip()
        replica_dsn = primary.start_replica()
        settings = {
            "DATABASE_URL": primary_dsn,
            "BOOKSTORE_REPLICA_URLS": replica_dsn,
            "BOOKSTORE_CACHE_MB": "0",
        }
        with running_server(settings) as server:
            yield Cluster(primary, primary_dsn, replica_dsn, server, token)
    finally:
        primary.stop_replica()
        primary.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def bookstore_backends(dsn: str) -> int:
    """Connections of the service's pools on the server at ``dsn``."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bookstore'"
            )
        )
    finally:
        await connection.close()


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=cluster.server.url, headers=cluster.headers(), timeout=5
    ) as client:
        yield client


async def replica_state(http: httpx.AsyncClient) -> str:
    health = (await http.get("/health")).json()
    [replica] = health["replicas"]
    return str(replica["state"])


async def wait_until(condition: object, timeout_s: float, what: str) -> float:
    """Seconds until the async ``condition()`` held; fails after ``timeout_s``."""
    started = time.monotonic()
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout_s, f"{what} not within {timeout_s} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_health_reports_the_replica_without_its_password(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    health = (await http.get("/health")).json()
    assert health["status"] == "ok"
    [replica] = health["replicas"]
    assert replica["state"] == "ok"
    assert replica["lag_s"] is not None and replica["lag_s"] < 5
    password = cluster.primary.password()
    assert password not in replica["url"]
    assert replica["url"].startswith("postgresql://postgres@127.0.0.1:")


async def test_searches_read_from_the_replica(cluster: Cluster, http: httpx.AsyncClient) -> None:
    author = (await http.post("/authors", json={"name": "Replica Reader"})).json()
    await http.post("/books", json={"title": "Streaming Things", "author_id": author["id"]})

    assert await bookstore_backends(cluster.replica_dsn) == 0
    await wait_until(lambda: _replica_serves(cluster, http), 5, "a search on the replica")


async def test_a_write_then_a_read_is_consistent(http: httpx.AsyncClient) -> None:
    author = (await http.post("/authors", json={"name": "Consistent Writer"})).json()
    for number in range(5):
        title = f"Written Then Read {number}"
        created = await http.post("/books", json={"title": title, "author_id": author["id"]})
        assert created.status_code == 201
        book = created.json()
        read = await http.get(f"/books/{book['id']}")
        assert read.json() == book
        assert read.headers["etag"] == created.headers["etag"]
        listed = (await http.get(f"/authors/{author['id']}/books?limit=100")).json()["items"]
        assert book["id"] in {b["id"] for b in listed}


async def test_a_replica_that_stops_costs_only_the_reads_in_flight(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    """Stopped under load: reads move to the primary within 2 s, then come back."""
    await wait_until(lambda: _is(http, "ok"), 5, "the replica ok")
    await wait_until(lambda: _replica_serves(cluster, http), 5, "reads on the replica")
    statuses: list[tuple[float, float, int]] = []
    stop = asyncio.Event()
    workers = 4

    async def load() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = (await http.get("/books?q=streaming")).status_code
            except httpx.TimeoutException:
                status = 0  # a hang: never acceptable
            statuses.append((started, time.monotonic(), status))

    loaders = [asyncio.create_task(load()) for _ in range(workers)]
    try:
        await asyncio.sleep(0.5)
        stopped = await asyncio.to_thread(cluster.replica_command, "stop")
        assert stopped == "embedded replica stopped"
        # pg_ctl's fast shutdown takes from a few hundred milliseconds to
        # seconds on a loaded machine; the 2 s count from when it is down.
        stopped_at = time.monotonic()
        await wait_until(lambda: _is(http, "down"), 2, "the replica reported down")
        await asyncio.sleep(2.5)
    finally:
        stop.set()
        await asyncio.gather(*loaders)
    failed = [s for s in statuses if s[2] != 200]
    assert all(status == 503 for _, _, status in failed), failed
    # Only what was in flight when it stopped: at most one per worker.
    assert len(failed) <= workers, failed
    assert all(started < stopped_at + 2 for started, _, _ in failed), failed
    assert max(finished - started for started, finished, _ in statuses) < 2
    assert [s for s in statuses if s[0] > stopped_at + 2], "no reads after the stop"

    # The same replica, same port: its URL is the one the service was given.
    assert await asyncio.to_thread(cluster.replica_command, "start") == cluster.replica_dsn
    await wait_until(lambda: _is(http, "ok"), 5, "the replica back")
    # Its connections died with it: any now were opened by reads since.
    await wait_until(lambda: _replica_serves(cluster, http), 5, "reads on the replica again")


async def _is(http: httpx.AsyncClient, state: str) -> bool:
    return await replica_state(http) == state


async def _replica_serves(cluster: Cluster, http: httpx.AsyncClient) -> bool:
    """A search answered, and the service holds connections to the replica."""
    assert (await http.get("/books?q=streaming")).status_code == 200
    return await bookstore_backends(cluster.replica_dsn) > 0
