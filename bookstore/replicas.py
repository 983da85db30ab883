"""Read replicas: listings and searches read from PostgreSQL streaming replicas.

``BOOKSTORE_REPLICA_URLS`` names the replicas. Each gets a pool of its own
(``pool_options``, the primary's settings), and ``RoutedPool`` stands in
for the engine's pool: a connection asked for while ``reads_from_replica``
is set (``bookstore.api.replica_reads`` sets it for ``GET /books``,
``/books/suggest``, ``/authors``, ``/categories``, their ``/books`` and the
exports) comes from a healthy replica, taken in turn; any other from the
primary: writes and their read-back, ``GET /books/{id}`` (whose ETag a
client compares with the one a write just returned), the search-log writer
(a task of its own, outside any request) and the admin (its own engine).
The data layer does not know: it asks the engine's pool as before.

A replica is healthy when it answered its last check, is no more than
``BOOKSTORE_REPLICA_MAX_LAG_S`` behind (``lagging`` otherwise) and has
replayed the catalog version this process knows. That last rule makes a
write visible to the next read: a replica that has not replayed it yet is
skipped (the read goes to the primary) until a check sees it there, within
a second. Checks run in the background, once a second, each on a
connection of its own, bounded by ``CHECK_TIMEOUT_S``.

A replica that dies is skipped from the first connection that cannot be
had from it, or that comes back closed: a request that could not get a
connection there gets one from the primary instead; only the statements
already running on it fail (503, ``bookstore.api.errors``). With no
replica healthy, every read goes to the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bookstore.background import Periodic
from bookstore.database import MAX_CACHED_STATEMENT_BYTES, BoundedPool, pool_options
from bookstore.settings import Settings

logger = logging.getLogger(__name__)

# Set per request by bookstore.api.replica_reads.ReplicaReads.
reads_from_replica: ContextVar[bool] = ContextVar("reads_from_replica", default=False)

CHECK_INTERVAL_S = 1.0
CHECK_TIMEOUT_S = 0.8
# Seconds behind the primary: none when it has replayed all it received (an
# idle primary sends nothing, and an old replay time would read as lag),
# else the age of the last transaction replayed.
LAG_AND_VERSION = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END::float8 AS lag_s,
       (SELECT version FROM catalog_version) AS catalog_version
"""


class ReplicaState(StrEnum):
    OK = "ok"
    LAGGING = "lagging"
    DOWN = "down"


def display_url(url: str) -> str:
    """``url`` without its password, for /health and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@dataclass
class Replica:
    url: str
    pool: BoundedPool | None = None
    state: ReplicaState = ReplicaState.DOWN
    lag_s: float | None = None
    catalog_version: int | None = None
    checked_at: float = 0.0
    _check_connection: asyncpg.Connection | None = field(default=None, repr=False)

    @property
    def display_url(self) -> str:
        return display_url(self.url)


class ReplicaSet:
    """The replicas, their health, and which one serves the next read."""

    def __init__(
        self,
        urls: list[str],
        settings: Settings,
        current_version: Callable[[], int | None],
        *,
        check_interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self.replicas = [Replica(url) for url in urls]
        self._settings = settings
        self._current_version = current_version
        self._next = 0
        # The first check runs in start(), before the service answers.
        self._checks = Periodic(
            "replica-checks", self.check_all, check_interval_s, first_now=False
        )

    async def start(self) -> None:
        options = pool_options(self._settings)
        # No connection at start: a replica that is down must not keep the
        # service from starting. The checks below open them.
        options["min_size"] = 0
        # A replica that stops answering without closing its sockets (a host
        # gone, a partition) would hold a statement forever: the server's
        # statement_timeout cannot fire there, so the client's does.
        options["command_timeout"] = self._settings.statement_timeout_ms / 1000 + 1
        options["statement_cache_size"] = self._settings.db_statement_cache_size
        options["max_cacheable_statement_size"] = MAX_CACHED_STATEMENT_BYTES
        for replica in self.replicas:
            pool = await asyncpg.create_pool(dsn=replica.url, **options)
            replica.pool = BoundedPool(
                pool, self._settings.db_acquire_timeout, self._settings.pool_max_size
            )
        await self.check_all()
        self._checks.start()

    async def stop(self) -> None:
        await self._checks.stop()
        for replica in self.replicas:
            if replica._check_connection is not None:
                replica._check_connection.terminate()
            if replica.pool is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(replica.pool.inner.close(), timeout=2)
                replica.pool.inner.terminate()

    def pick(self) -> Replica | None:
        """The next healthy replica that has the catalog this process knows, or None."""
        version = self._current_version()
        count = len(self.replicas)
        for offset in range(count):
            replica = self.replicas[(self._next + offset) % count]
            if replica.state is ReplicaState.OK and (
                version is None
                or (replica.catalog_version is not None and replica.catalog_version >= version)
            ):
                self._next = (self._next + offset + 1) % count
                return replica
        return None

    def mark_down(self, replica: Replica, reason: object) -> None:
        if replica.state is not ReplicaState.DOWN:
            logger.warning("replica %s is down: %r", replica.display_url, reason)
        replica.state = ReplicaState.DOWN
        replica.lag_s = None

    async def check_all(self) -> None:
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))

    async def _check(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                if replica._check_connection is None or replica._check_connection.is_closed():
                    replica._check_connection = await asyncpg.connect(
                        replica.url,
                        server_settings={"application_name": "bookstore-replica-check"},
                    )
                row = await replica._check_connection.fetchrow(LAG_AND_VERSION)
        except Exception as error:
            if replica._check_connection is not None:
                replica._check_connection.terminate()
                replica._check_connection = None
            self.mark_down(replica, error)
            return
        replica.checked_at = time.monotonic()
        replica.lag_s = round(float(row["lag_s"] or 0.0), 3)
        replica.catalog_version = row["catalog_version"]
        healthy = replica.lag_s <= self._settings.replica_max_lag_s
        state = ReplicaState.OK if healthy else ReplicaState.LAGGING
        if state is not replica.state:
            logger.warning(
                "replica %s is %s (lag %.3f s)", replica.display_url, state, replica.lag_s
            )
        replica.state = state


class RoutedPool:
    """The engine's pool: the primary's, or a replica's for reads that may use one.

    Connections go back to the pool they came from; a replica's connection
    that comes back closed marks its replica down at once, without waiting
    for the next check.
    """

    def __init__(self, primary: BoundedPool, replicas: ReplicaSet) -> None:
        self.primary = primary
        self.replicas = replicas
        self._lent: dict[Any, Replica] = {}

    def acquire(self, *, timeout: float | None = None) -> Any:
        if reads_from_replica.get():
            replica = self.replicas.pick()
            if replica is not None:
                return _ReplicaAcquire(self, replica, timeout)
        return self.primary.acquire(timeout=timeout)

    async def _acquire_from(self, replica: Replica, within_s: float | None) -> Any:
        assert replica.pool is not None
        try:
            connection = await replica.pool.acquire(timeout=within_s)
        except Exception as error:
            # Down since its last check: this request reads from the primary.
            self.replicas.mark_down(replica, error)
            return await self.primary.acquire(timeout=within_s)
        self._lent[connection] = replica
        return connection

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        replica = self._lent.pop(connection, None)
        if replica is None:
            await self.primary.release(connection, timeout=timeout)
            return
        if connection.is_closed():
            self.replicas.mark_down(replica, "a connection was closed under a query")
        assert replica.pool is not None
        await replica.pool.release(connection, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)


class _ReplicaAcquire:
    def __init__(self, pool: RoutedPool, replica: Replica, timeout: float | None) -> None:
        self._pool = pool
        self._replica = replica
        self._timeout = timeout
        self._connection: Any = None

    def __await__(self) -> Any:
        return self._pool._acquire_from(self._replica, self._timeout).__await__()

    async def __aenter__(self) -> Any:
        self._connection = await self._pool._acquire_from(self._replica, self._timeout)
        return self._connection

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pool.release(self._connection)
