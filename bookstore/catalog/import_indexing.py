"""The import's search indexing: the queue its batches fill, emptied on a connection of its own.

``bookstore.catalog.imports`` writes books batch after batch and queues them in
``search_index_queue`` (migration 2026-11-29T10:00); the ``Indexer`` here
indexes what is queued while the next batches are written. The service's
``QueueSweeper`` indexes what a stopped import left there.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from bookstore.background import Periodic
from bookstore.database import DatabaseConnection, connection
from bookstore.tables import Book

logger = logging.getLogger(__name__)

# How long one statement of an import may run (the batches' writes and the
# index passes alike). Indexing 1,000 new books for the search box took 3 s
# on a loaded 2-core server: through POST /books/import the API's 5 s would
# fail whole batches (then retried row by row) whenever the load rose a
# little more.
BATCH_STATEMENT_TIMEOUT_MS = 60_000

# At most this many queued books are indexed in one transaction (a few
# seconds): the books stay locked that long, and a bigger pass saves little
# (per book, 10,000 at once cost 10-25% less CPU than 1,000).
BOOKS_PER_INDEX_PASS = 10_000


class Indexer:
    """Indexes ``search_index_queue`` on a connection of its own while batches are written.

    Indexing a batch's new books took two thirds of the database's time of
    an import of new books, after the batch's writes and before its commit,
    so batch after batch the two added up. Here the writer only queues its
    books, and this task indexes whatever is queued whenever a batch has
    committed: the two run side by side (PostgreSQL runs each connection in
    a process of its own), and a pass takes every book queued while the
    last one ran. ``search_index_queued`` skips books another transaction
    holds (the writer's next batch updating one, an API edit): they stay
    queued for a later pass. The first pass also indexes what an earlier,
    stopped import left queued.
    """

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._wake.set()
        self._writing = True
        self._owed: list[int] = []
        self._failed_passes = 0
        self._indexed = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def queued(self, book_ids: list[int]) -> None:
        """A transaction that queued ``book_ids`` has committed."""
        self._owed.extend(book_ids)
        self._wake.set()

    async def finish(self) -> None:
        """Return once the books queued through ``queued`` are indexed."""
        self._writing = False
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        async with connection(Book._meta.db) as db:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while await self._pass(db):
                    pass
                if not self._writing:
                    if not await self._still_owed(db):
                        await self._advance_catalog_version(db)
                        return
                    await asyncio.sleep(0.05)  # held by another transaction: soon again
                    self._wake.set()

    async def index_queue(self) -> int:
        """Index every book queued now, except those another transaction holds; how many."""
        async with connection(Book._meta.db) as db:
            while await self._pass(db):
                pass
            await self._advance_catalog_version(db)
        return self._indexed

    async def _pass(self, db: DatabaseConnection) -> int:
        """Index up to ``BOOKS_PER_INDEX_PASS`` queued books in one transaction; how many."""
        try:
            async with db.transaction():
                await db.execute(
                    "SELECT set_config('statement_timeout', $1, true)",
                    str(BATCH_STATEMENT_TIMEOUT_MS),
                )
                indexed: int = await db.fetchval(
                    "SELECT search_index_queued($1)", BOOKS_PER_INDEX_PASS
                )
        except (asyncpg.DeadlockDetectedError, asyncpg.UniqueViolationError):
            # Rolled back, its books still queued: a writer updated books of
            # the pass in another order, or a rename's trigger (which locks
            # no book) indexed one of them meanwhile. The next pass takes them.
            self._failed_passes += 1
            if self._failed_passes > 3:
                raise
            return 1
        self._failed_passes = 0
        self._indexed += indexed
        return indexed

    async def _advance_catalog_version(self, db: DatabaseConnection) -> None:
        """Move the catalog version once the import's books are indexed.

        Indexing writes ``book_search`` only, which no version trigger
        watches: a ``?q=`` answer cached between a batch's commit and the
        indexing of its books would otherwise lack them until the next write
        to the catalog (migration 2026-11-29T10:45).
        """
        if self._indexed:
            await db.fetchval("SELECT catalog_version_advance()")

    async def _still_owed(self, db: DatabaseConnection) -> bool:
        if not self._owed:
            return False
        return bool(
            await db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM search_index_queue"
                " WHERE book_id = ANY($1::integer[]))",
                self._owed,
            )
        )


# Both ends of the queue: they move within seconds while an import runs (its
# batches add books at the top, its indexer takes them from the bottom).
_QUEUE_ENDS = """
SELECT (SELECT book_id FROM search_index_queue ORDER BY book_id LIMIT 1) AS first,
       (SELECT book_id FROM search_index_queue ORDER BY book_id DESC LIMIT 1) AS last
"""


class QueueSweeper:
    """Indexes the books a stopped import left in ``search_index_queue``.

    An import indexes its own books. Stopped midway (killed, its server
    restarted), it leaves its committed books queued: listed by ``/books``
    but not found by ``?q=``, until something indexes the queue. Every
    ``interval_s`` the service reads the queue's two ends; a queue that
    holds books and has not moved since the last look has nobody indexing
    it, and the sweeper indexes it, then advances the catalog version as an
    import does. A live import moves the ends with every batch, so it is
    left to index its own books; were the two to meet anyway (an import
    paused longer than the interval), ``search_index_queued`` claims books
    with SKIP LOCKED, so they share the work and never index a book twice.
    Each worker of the service runs one; they meet the same way.
    """

    def __init__(self, interval_s: float) -> None:
        self._seen: tuple[int, int] | None = None
        self._periodic = Periodic("search-queue-sweeper", self.sweep, interval_s)

    async def sweep_if_still(self, seen: tuple[int, int] | None) -> tuple[int, int] | None:
        """Index the queue if its ends are still ``seen``; the ends to compare next time."""
        async with connection(Book._meta.db) as db:
            row = await db.fetchrow(_QUEUE_ENDS)
        ends = None if row["first"] is None else (row["first"], row["last"])
        if ends is None or ends != seen:
            return ends
        indexed = await Indexer().index_queue()
        logger.info("search index: %d books left queued by a stopped import indexed", indexed)
        return None

    async def sweep(self) -> None:
        """One look; a look that fails forgets the ends, so the next only notes them."""
        seen, self._seen = self._seen, None
        self._seen = await self.sweep_if_still(seen)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
