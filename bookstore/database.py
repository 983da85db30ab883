"""Which PostgreSQL the service talks to, and the engine that talks to it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg import Connection, Pool, Record
from asyncpg.pool import PoolConnectionProxy
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.querystring import QueryString

from bookstore.embedded import EmbeddedPostgres
from bookstore.query_text import compile_postgres
from bookstore.settings import Settings, get_settings

# What statements run on: a connection of its own, or one lent by the pool.
DatabaseConnection = Connection | PoolConnectionProxy


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.data_dir, database=settings.database_name)


def resolve_dsn(settings: Settings | None = None) -> str:
    """``DATABASE_URL`` when set, else the embedded server (started on demand).

    Blocking: call it before the event loop runs or from a worker thread.
    """
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server(settings).ensure_running()


# search_fold() lowers letters with lower(), which follows the database's
# LC_CTYPE. Under "C" (or "POSIX") only ASCII letters are lowered: a title's
# "ØRJAN" would be indexed as "Ørjan" while the "Ørjan" a customer types is
# folded to "orjan", and the book would never be found. The check asks lower()
# itself, so any locale that folds these letters passes, whatever its name.
# Asked only of a UTF8 database: another encoding cannot even hold the letters
# (the statement fails as it is received), nor the titles of every script.
_ENCODING_AND_CTYPE = (
    "SELECT getdatabaseencoding() AS encoding,"
    " (SELECT datctype FROM pg_database WHERE datname = current_database()) AS ctype"
)
_FOLDS_CASE = "SELECT lower('ÀØŁΣЖ') = 'àøłσж'"


async def case_folding_problem(dsn: str) -> str | None:
    """Why searches on this database would miss capitals, or None when they would not."""
    # No named statement: the DSN may be a PgBouncer in transaction mode.
    connection = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        row = await connection.fetchrow(_ENCODING_AND_CTYPE)
        folds = row["encoding"] == "UTF8" and await connection.fetchval(_FOLDS_CASE)
    finally:
        await connection.close()
    if folds:
        return None
    if row["encoding"] != "UTF8":
        return (
            f"this database's encoding is {row['encoding']!r}, which cannot hold the letters of"
            " every script, and under which PostgreSQL's lower() cannot be asked to fold them."
            " Create the database as UTF8, e.g."
            " createdb --template=template0 --encoding=UTF8 --locale=C.UTF-8 NAME"
        )
    return (
        f"this database's LC_CTYPE is {row['ctype']!r}, under which PostgreSQL's lower() leaves "
        "letters like 'Ø' or 'Ж' as they are: searches would not find words written in such "
        "capitals. Create the database with a UTF-8 locale, e.g. "
        "createdb --template=template0 --locale=C.UTF-8 NAME"
    )


def pool_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``PostgresEngine.start_connection_pool``.

    Every wait is bounded, so that a database that is down, unreachable or
    overloaded turns into a quick 503 rather than a hung request: connecting
    gives up after ``db_connect_timeout``, and any statement of the API after
    ``statement_timeout_ms`` (migrations and seeding use their own
    connections, without that limit).

    The API's statements are planned once per connection
    (``force_generic_plan``). Left to choose, PostgreSQL kept planning every
    search anew, because a generic plan's estimate looked dearer than the
    custom plans it had seen: planning was half the database time of a
    search (1M books: 590 -> 270 us of server CPU per author search). Every
    statement of the API is written to have one right plan whatever its
    parameters; where the right plan depends on a value, the application
    picks a differently written statement (``bookstore.catalog``). Parallel
    workers cost more to start (about 10 ms) than any of these statements
    takes, and would take cores from other requests; so does JIT compiling,
    which a large estimate (a search statement of many branches) triggered.
    """
    return {
        "min_size": settings.pool_min_size,
        "max_size": settings.pool_max_size,
        "timeout": settings.db_connect_timeout,
        "server_settings": session_settings(
            settings,
            application_name="bookstore",
            statement_timeout=str(settings.statement_timeout_ms),
            plan_cache_mode="force_generic_plan",
            max_parallel_workers_per_gather="0",
            # Compiling a statement costs 50 to 200 ms; none of the API's
            # statements runs long enough to win it back.
            jit="off",
        ),
        "reset": keep_session,
    }


# What PgBouncer accepts in a connection's startup packet (it tracks them per
# client); it refuses any other setting there.
POOLER_STARTUP_SETTINGS = frozenset(
    {"application_name", "client_encoding", "datestyle", "timezone", "standard_conforming_strings"}
)


def session_settings(settings: Settings, **wanted: str) -> dict[str, str]:
    """``wanted``, the settings a pool's connections start with, as can be sent.

    Behind PgBouncer (``BOOKSTORE_PGBOUNCER``) only those it tracks go in
    the startup packet: a server connection is shared by many clients in
    turn, so per-client settings cannot hold, and PgBouncer refuses them.
    The pooler's own ``connect_query`` sets them for every server
    connection instead (docs/deployment.md, "PgBouncer").
    """
    if not settings.pgbouncer:
        return wanted
    return {name: value for name, value in wanted.items() if name in POOLER_STARTUP_SETTINGS}


async def keep_session(connection: DatabaseConnection) -> None:
    """Give a connection back to the pool as it is: the reset of every pool the service opens.

    asyncpg's default reset runs one more statement on every release
    (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), an
    extra round trip per query, a third of the database work of a search.
    The service never leaves session state behind: no advisory locks,
    cursors, LISTEN or session-level SET (settings of a step go in
    ``SET LOCAL``). An open transaction is still rolled back by asyncpg
    before this is called.

    Behind PgBouncer in transaction mode the default reset is also wrong:
    it runs as a transaction of its own on whichever server connection
    PgBouncer hands out, and its ``RESET ALL`` takes that connection back to
    PostgreSQL's defaults, undoing what PgBouncer's ``connect_query`` set
    (``plan_cache_mode``, ``statement_timeout``...) for every later client
    of it. The command line's pool did that after each ``bookstore token
    create``: API connections then answered ``plan_cache_mode = auto``.
    """


logger = logging.getLogger(__name__)


@dataclass
class WaitBudget:
    """Seconds the current request may still spend waiting for connections."""

    remaining: float


# Longest a release may take: waiting for a cancelled query to stop, and
# rolling back a transaction left open.
RELEASE_TIMEOUT_S = 2.0

# Set per request by bookstore.api.wait_budget.DatabaseWaitBudget.
wait_budget: ContextVar[WaitBudget | None] = ContextVar("wait_budget", default=None)


class BoundedPool:
    """An asyncpg pool whose ``acquire()`` gives up in time, and serves waiters in turn.

    Piccolo acquires connections without a timeout; when every connection
    is busy, or the server does not answer, requests would queue forever.
    Here each acquire is bounded by ``timeout`` and, inside a request, by
    what is left of the request's ``WaitBudget``: a request running three
    statements against a database that is unreachable answers (503) within
    one budget, not three. Time spent running statements is not counted;
    the statement timeout bounds that.

    Waiters get connections in the order they asked (``_turns``, a FIFO
    semaphore of the pool's size). asyncpg's own queue lets a newcomer take
    a connection that was released to a waiter, and the waiter goes back to
    the end of the line: under load a few requests waited hundreds of
    milliseconds while most waited a few (1M books, 32 connections: p50 8 ms,
    p99 430 ms).
    """

    def __init__(self, pool: Pool, timeout: float, size: int) -> None:
        self.inner = pool
        self._timeout = timeout
        self._turns = asyncio.Semaphore(size)
        # Connections lent out, each holding one turn: a second release of
        # the same connection gives back nothing.
        self._lent: set[Any] = set()

    def acquire(self, *, timeout: float | None = None) -> _BoundedAcquire:
        return _BoundedAcquire(self, self._timeout if timeout is None else timeout)

    async def _acquire(self, within_s: float) -> Any:
        """A connection within ``within_s`` seconds, else TimeoutError."""
        started = time.monotonic()
        if self._turns.locked():
            async with asyncio.timeout(within_s):
                await self._turns.acquire()
        else:
            await self._turns.acquire()  # free: no wait, no timer
        try:
            left = within_s - (time.monotonic() - started)
            connection = await self.inner.acquire(timeout=max(left, 0.001))
        except BaseException:
            self._turns.release()
            raise
        self._lent.add(connection)
        return connection

    async def release(
        self,
        connection: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's Pool.release signature
    ) -> None:
        """Give a connection back; never fails the caller.

        asyncpg would bound the release by the acquire's timeout (what was
        left of the request's budget), and a release left unbounded can wait
        forever on a cancelled query to a server that is gone. When the
        release fails, asyncpg has already closed the connection and freed
        its place in the pool: the query itself succeeded, so nothing is
        raised.
        """
        try:
            await self.inner.release(connection, timeout=timeout or RELEASE_TIMEOUT_S)
        except Exception as error:
            logger.warning("a database connection was closed on release: %r", error)
        finally:
            if connection in self._lent:
                self._lent.discard(connection)
                self._turns.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _BoundedAcquire:
    """``await pool.acquire()`` or ``async with pool.acquire()``, bounded in time.

    Only the wait for a connection is bounded by the budget; the release
    goes through ``BoundedPool.release``.
    """

    def __init__(self, pool: BoundedPool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._connection: Any = None

    async def _acquire(self) -> Any:
        budget = wait_budget.get()
        timeout = self._timeout if budget is None else min(self._timeout, budget.remaining)
        started = time.monotonic()
        try:
            return await self._pool._acquire(max(timeout, 0.001))
        finally:
            if budget is not None:
                budget.remaining -= time.monotonic() - started

    def __await__(self) -> Any:
        return self._acquire().__await__()

    async def __aenter__(self) -> Any:
        self._connection = await self._acquire()
        return self._connection

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pool.release(self._connection)


class ReleasingTransaction(PostgresTransaction):
    """Piccolo's transaction, whose connection always returns to the pool.

    Piccolo rolls back (or commits) and then releases; when the connection
    died under the transaction, the rollback raises and the release never
    happens. And when BEGIN fails or is cancelled after the connection was
    taken (a connection the server dropped while idle, a client gone), no
    ``__aexit__`` runs at all. Either way the pool would lose a connection,
    and ``BoundedPool`` a turn, for good: after ``pool_max_size`` of them,
    every request would wait for nothing and answer 503.
    """

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return await super().__aenter__()
        try:
            return await super().__aenter__()
        except BaseException:
            if getattr(self, "connection", None) is not None:  # taken, then BEGIN failed
                await self._give_back()
            raise

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            try:
                await self._give_back()
            finally:
                self.engine.current_transaction.reset(self.context)
        return exception is None

    async def _give_back(self) -> None:
        if self.engine.pool:
            await self.engine.pool.release(self.connection)
        else:
            await self.connection.close()


def transaction(engine: PostgresEngine) -> ReleasingTransaction:
    """``async with transaction(Book._meta.db): ...``: all of it, or none."""
    return ReleasingTransaction(engine)


@asynccontextmanager
async def connection(engine: PostgresEngine) -> AsyncIterator[DatabaseConnection]:
    """One connection for the few statements of a read, held until the block ends.

    Inside ``transaction()`` it is the transaction's own. Otherwise it comes
    from the pool once, where running each statement through Piccolo would
    acquire and release once per statement; a search (lookup, then page)
    is the hot path of the service and pays for one acquire only.
    """
    current = engine.current_transaction.get()
    if current is not None:
        yield current.connection
    elif engine.pool is not None:
        async with engine.pool.acquire() as pooled:
            yield pooled
    else:  # a command-line tool without a pool
        new = await engine.get_new_connection()
        try:
            yield new
        finally:
            await new.close()


async def fetch(connection: DatabaseConnection, query: QueryString) -> list[Record]:
    """Run a Piccolo ``QueryString`` on ``connection``; rows as asyncpg returns them."""
    sql, args = compile_postgres(query)
    return await connection.fetch(sql, *args)


async def start_pool(engine: PostgresEngine, settings: Settings) -> None:
    """Open the engine's pool with the service's bounds (see ``pool_options``)."""
    await engine.start_connection_pool(**pool_options(settings))
    assert engine.pool is not None
    engine.pool = BoundedPool(  # type: ignore[assignment]
        engine.pool, settings.db_acquire_timeout, settings.pool_max_size
    )


async def open_health_pool(engine: PostgresEngine, settings: Settings) -> Pool:
    """A connection of its own for ``/health``, opened on first use.

    Through the API's pool, a health check queued behind the searches like
    any request: under full load it took as long as a search (p99 28 ms),
    and an orchestrator that sees a slow health check restarts a busy but
    healthy instance. Its own connection still proves the database answers.
    """
    return await asyncpg.create_pool(
        **with_server_settings(engine.config, application_name="bookstore-health"),
        min_size=0,
        max_size=1,
        timeout=settings.db_connect_timeout,
        reset=keep_session,
    )


def with_server_settings(config: dict[str, Any], **server_settings: str) -> dict[str, Any]:
    """A copy of an engine's ``config`` with ``server_settings`` added to its own."""
    return {**config, "server_settings": {**config.get("server_settings", {}), **server_settings}}


async def ping(pool: Pool, within_s: float) -> None:
    """One round trip to the database in ``within_s`` seconds, else TimeoutError.

    Every step is bounded, release included: a connection that did not answer
    in time is closed, not waited for (asyncpg's release would wait for the
    server to acknowledge the cancelled query, however long that takes).
    """
    deadline = time.monotonic() + within_s
    connection = await pool.acquire(timeout=within_s)
    try:
        await connection.fetchval("SELECT 1", timeout=max(deadline - time.monotonic(), 0.001))
    except BaseException:
        connection.terminate()
        raise
    finally:
        await pool.release(connection, timeout=RELEASE_TIMEOUT_S)


# asyncpg prepares and keeps a statement only up to 15 KiB of text by default;
# a longer one is planned again on every execution. The level walk of five
# or more terms (or of three with filters) is longer: 17,314 characters for
# five terms on 2026-11-30, its page 4.7-7.8 ms with the planning, where a
# kept generic plan runs in about 1.
MAX_CACHED_STATEMENT_BYTES = 128 * 1024


def create_engine(dsn: str, settings: Settings | None = None) -> PostgresEngine:
    """The Piccolo engine for ``dsn``.

    The API's pool adds its own settings when it starts (``pool_options``);
    migrations and seeding, which use the engine without that pool, keep
    PostgreSQL's defaults, and the admin builds an engine of its own from
    this one's config (``bookstore.admin.database.admin_database``). Every
    connection made from the config, pooled or not, keeps
    ``db_statement_cache_size`` prepared statements (0 behind a pooler
    that cannot keep them), however long (``MAX_CACHED_STATEMENT_BYTES``).
    """
    settings = settings or get_settings()
    return PostgresEngine(
        config={
            "dsn": dsn,
            "server_settings": {"application_name": "bookstore"},
            "statement_cache_size": settings.db_statement_cache_size,
            "max_cacheable_statement_size": MAX_CACHED_STATEMENT_BYTES,
        }
    )
