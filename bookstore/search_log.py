"""Logging searches to ``search_logs``, off the response path and in batches.

Each search hands a record to ``SearchLogger.record`` from a FastAPI
background task, after the response is sent. ``record`` only appends to an
in-memory buffer; a writer task drains the buffer with one multi-row INSERT
per batch. One statement per batch instead of one per search keeps logging
cheap under load, and a failed write (database restarting, say) leaves the
records in the buffer to be retried: they are lost only if the buffer
overflows, and those losses are counted and logged, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bookstore.tables import SearchLog

logger = logging.getLogger(__name__)

_INSERT_BATCH = """
INSERT INTO search_logs (author, category, q, query, result_count, duration_ms, created_at)
SELECT * FROM unnest({}::text[], {}::text[], {}::text[], {}::text[], {}::integer[],
                     {}::double precision[], {}::timestamptz[])
"""


@dataclass(frozen=True)
class SearchRecord:
    author: str | None
    category: str | None
    query: str | None
    result_count: int
    duration_ms: float
    q: str | None = None
    # When the search ran, not when its row happened to be written.
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class SearchLogStats:
    written: int = 0
    pending: int = 0
    dropped: int = 0
    failed_writes: int = 0


class SearchLogger:
    """A bounded buffer of search records and the task that writes them.

    >>> search_logger = SearchLogger()
    >>> await search_logger.start()
    >>> await search_logger.record(SearchRecord("le guin", None, "author=le+guin", 7, 1.2))
    >>> await search_logger.stop()  # writes what is still buffered
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        capacity: int = 100_000,
        batch_size: int = 1_000,
        flush_interval_s: float = 0.05,
        retry_interval_s: float = 1.0,
    ) -> None:
        self.enabled = enabled
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self._buffer: deque[SearchRecord] = deque()
        self._stats = SearchLogStats()
        self._wakeup = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None

    @property
    def stats(self) -> SearchLogStats:
        return SearchLogStats(
            written=self._stats.written,
            pending=len(self._buffer),
            dropped=self._stats.dropped,
            failed_writes=self._stats.failed_writes,
        )

    async def record(self, record: SearchRecord) -> None:
        """Buffer one search; never waits on the database."""
        if not self.enabled:
            return
        if len(self._buffer) >= self.capacity:
            self._stats.dropped += 1
            if self._stats.dropped == 1 or self._stats.dropped % 1000 == 0:
                logger.error(
                    "search log buffer full (%d records): %d searches not logged so far",
                    self.capacity,
                    self._stats.dropped,
                )
            return
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self._wakeup.set()

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_continuously(), name="search-log-writer")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the writer, then write what is buffered (within ``timeout_s``)."""
        if self._writer is not None:
            # Not in the middle of a batch: a cancelled INSERT may have been
            # committed already, and its records would be written twice.
            async with self._flushing:
                self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout=timeout_s)
        if self._buffer:
            logger.error("search log: %d records not written at shutdown", len(self._buffer))

    async def flush(self) -> bool:
        """Write every buffered record; False if a write failed (they stay buffered)."""
        async with self._flushing:
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(self.batch_size, len(self._buffer)))]
                try:
                    await _insert(batch)
                except Exception as error:
                    self._stats.failed_writes += 1
                    logger.warning(
                        "search log: writing %d records failed (%r); %d buffered, retrying",
                        len(batch),
                        error,
                        len(self._buffer),
                    )
                    return False
                for _ in batch:
                    self._buffer.popleft()
                self._stats.written += len(batch)
            return True

    async def _write_continuously(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.flush_interval_s)
            self._wakeup.clear()
            if not await self.flush():
                await asyncio.sleep(self.retry_interval_s)


async def _insert(batch: list[SearchRecord]) -> None:
    await SearchLog.raw(
        _INSERT_BATCH,
        [r.author for r in batch],
        [r.category for r in batch],
        [r.q for r in batch],
        [r.query for r in batch],
        [r.result_count for r in batch],
        [r.duration_ms for r in batch],
        [r.created_at for r in batch],
    )
