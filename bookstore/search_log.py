"""Logging searches to ``search_logs``, off the response path and in batches.

Each search hands a record to ``SearchLogger.record`` from a FastAPI
background task, after the response is sent. ``record`` only appends to an
in-memory buffer; a writer task drains the buffer with one multi-row INSERT
per batch. One statement per batch instead of one per search keeps logging
cheap under load, and a failed write (database restarting, say) leaves the
records in the buffer to be retried: they are lost only if the buffer
overflows, and those losses are counted and logged, never silent.

The same statement rolls the batch up (docs/insights.md): per hour and per
day, the searches by latency bucket (a histogram, for percentiles), and
each search's count. The insights read those rollups, never the
raw rows, and the raw rows can then be dropped a day at a time
(``bookstore.search_log_retention``). One statement: a batch and its
rollups are written together or not at all, so a retried batch is never
counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg

from bookstore.catalog.search.words import fold
from bookstore.tables import SearchLog

logger = logging.getLogger(__name__)

# The raw rows and their three rollups. Rows of each upsert are sorted by
# key, so two workers writing the same hour lock its rows in the same order.
# The columns but the timestamps come as text in PostgreSQL's array syntax
# (``batch_arguments``), cast once by the statement.
_INSERT_BATCH = """
WITH batch AS (
    SELECT * FROM unnest({}::text::text[], {}::text::text[], {}::text::text[],
                         {}::text::text[], {}::text::integer[], {}::text::double precision[],
                         {}::timestamptz[], {}::timestamptz[], {}::text::smallint[],
                         {}::text::text[], {}::text::text[], {}::text::text[],
                         {}::text::jsonb[])
        AS b (author, category, q, query, result_count, duration_ms, created_at, hour,
              latency_bucket, search_q, search_author, search_category, params)
), logged AS (
    INSERT INTO search_logs (author, category, q, query, result_count, duration_ms, created_at)
    SELECT author, category, q, query, result_count, duration_ms, created_at FROM batch
), hours AS (
    INSERT INTO search_log_hours AS h (hour, latency_bucket, searches, zero_results)
    SELECT hour, latency_bucket, count(*), count(*) FILTER (WHERE result_count = 0)
    FROM batch GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, latency_bucket) DO UPDATE
    SET searches = h.searches + excluded.searches,
        zero_results = h.zero_results + excluded.zero_results
), days AS (
    INSERT INTO search_log_days AS d (day, latency_bucket, searches, zero_results)
    SELECT (hour AT TIME ZONE 'UTC')::date, latency_bucket,
           count(*), count(*) FILTER (WHERE result_count = 0)
    FROM batch GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, latency_bucket) DO UPDATE
    SET searches = d.searches + excluded.searches,
        zero_results = d.zero_results + excluded.zero_results
), terms AS (
    SELECT hour, search_q, search_author, search_category, (array_agg(params))[1] AS params,
           count(*) AS searches, count(*) FILTER (WHERE result_count = 0) AS zero_results
    FROM batch WHERE (search_q, search_author, search_category) <> ('', '', '')
    GROUP BY 1, 2, 3, 4
), terms_hourly AS (
    INSERT INTO search_log_terms_hourly AS t
        (hour, q, author, category, params, searches, zero_results)
    SELECT * FROM terms ORDER BY 1, 2, 3, 4
    ON CONFLICT (hour, q, author, category) DO UPDATE
    SET searches = t.searches + excluded.searches,
        zero_results = t.zero_results + excluded.zero_results
)
INSERT INTO search_log_terms_daily AS d (day, q, author, category, params, searches, zero_results)
SELECT (hour AT TIME ZONE 'UTC')::date, search_q, search_author, search_category,
       (array_agg(params))[1], sum(searches), sum(zero_results)
FROM terms GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (day, q, author, category) DO UPDATE
SET searches = d.searches + excluded.searches,
    zero_results = d.zero_results + excluded.zero_results
"""

# Latency histogram: bucket 0 holds durations up to 0.05 ms, bucket i those in
# (0.05 * 1.1**(i-1), 0.05 * 1.1**i] ms, the last one everything beyond 73 s.
# A percentile read off it is the upper bound of its bucket: never below the
# true value, at most 10% above.
LATENCY_BUCKET_BASE_MS = 0.05
LATENCY_BUCKET_GROWTH = 1.1
LATENCY_BUCKETS = 150


def latency_bucket(duration_ms: float) -> int:
    """The histogram bucket of a duration (the migration has the same formula in SQL)."""
    if duration_ms <= LATENCY_BUCKET_BASE_MS:
        return 0
    ratio = math.log(duration_ms / LATENCY_BUCKET_BASE_MS) / math.log(LATENCY_BUCKET_GROWTH)
    return min(LATENCY_BUCKETS - 1, max(0, math.ceil(ratio - 1e-9)))


def latency_bucket_upper_ms(bucket: int) -> float:
    """The longest duration counted in ``bucket``."""
    return LATENCY_BUCKET_BASE_MS * LATENCY_BUCKET_GROWTH**bucket


def normalize_search(text: str | None) -> str:
    """What customers typed, folded as the search folds it, spaces collapsed.

    ``"  García   MÁRQUEZ "`` -> ``"garcia marquez"``: one entry in the top lists.
    """
    return " ".join(fold(text).split()) if text else ""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


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

    def search_terms(self) -> tuple[str, str, str]:
        """(q, author, category), normalized: the q alone when there is one.

        A search is what the customer looked for: the text of the search box,
        or else the author and category names. ("", "", "") for a search by
        ids only, which counts in the totals but names nothing to list.
        """
        q = normalize_search(self.q)
        if q:
            return q, "", ""
        return "", normalize_search(self.author), normalize_search(self.category)

    def search_params(self) -> dict[str, str]:
        """The search as typed, as ``GET /books`` parameters: a link replays it."""
        if normalize_search(self.q):
            return {"q": self.q or ""}
        return {
            name: value
            for name, value in (("author", self.author), ("category", self.category))
            if value
        }


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
                    forget_partitions()  # a day's partition may have been dropped meanwhile
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


# The days whose partition this process knows to exist.
_days_with_partitions: set[date] = set()
# Created ahead, so that midnight's first batch does not wait on DDL.
PARTITIONS_AHEAD_DAYS = 2


async def ensure_partitions(days: set[date]) -> None:
    """Create the day partitions of ``search_logs`` that ``days`` need.

    A row for a day without its partition would fail the whole batch; there
    is no default partition on purpose (a day's partition could not be
    created while the default held rows of that day).
    """
    missing = days - _days_with_partitions
    if not missing:
        return
    last = max(max(missing), datetime.now(UTC).date() + timedelta(days=PARTITIONS_AHEAD_DAYS))
    await SearchLog.raw("SELECT search_logs_add_partitions({}, {})", min(missing), last)
    _days_with_partitions.update(
        min(missing) + timedelta(days=n) for n in range((last - min(missing)).days + 1)
    )


def forget_partitions() -> None:
    """After partitions were dropped: check again before writing to any day."""
    _days_with_partitions.clear()


async def _insert(batch: list[SearchRecord]) -> None:
    days = {day_of(r.created_at) for r in batch}
    await ensure_partitions(days)
    try:
        await _insert_with_rollups(batch)
    except asyncpg.CheckViolationError:
        # "no partition of relation search_logs found for row": another
        # process (``bookstore logs prune``) dropped a day this one had seen.
        forget_partitions()
        await ensure_partitions(days)
        await _insert_with_rollups(batch)


async def _insert_with_rollups(batch: list[SearchRecord]) -> None:
    await SearchLog.raw(_INSERT_BATCH, *batch_arguments(batch))


def _text_array(values: list[str | None]) -> str:
    """A ``text[]`` literal: each value quoted, a backslash before each \\ and ", None NULL.

    Without None (and NUL, which PostgreSQL's text cannot hold: such a value
    fails the statement, as it did sent as a list), the values are joined and
    escaped at once, not one by one.
    """
    if values and None not in values:
        joined = "\0".join(values)  # type: ignore[arg-type]  # no None, as checked
        if joined.count("\0") == len(values) - 1:
            escaped = joined.replace("\\", "\\\\").replace('"', '\\"')
            return '{"' + escaped.replace("\0", '","') + '"}'
    return (
        "{"
        + ",".join(
            "NULL"
            if value is None
            else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for value in values
        )
        + "}"
    )


def _plain_array(values: list[int] | list[float]) -> str:
    """An array literal of numbers, as ``str`` writes them (a float as ``repr``: the same
    double read back)."""
    return "{" + ",".join(map(str, values)) + "}"


def batch_arguments(batch: list[SearchRecord]) -> list[object]:
    """``_INSERT_BATCH``'s thirteen columns: text in PostgreSQL's array syntax, timestamps
    as lists.

    Sent as lists, asyncpg encoded them element by element, asking each one
    or two Python-level ``isinstance`` checks against ``collections.abc``:
    59,000 of the 132,000 worker instructions a logged search cost (batches
    of 32, 2026-11-30). A timestamp stays a list element: written as text
    (``isoformat``) it cost more than its check and binary encoding.
    """
    terms = [r.search_terms() for r in batch]
    return [
        _text_array([r.author for r in batch]),
        _text_array([r.category for r in batch]),
        _text_array([r.q for r in batch]),
        _text_array([r.query for r in batch]),
        _plain_array([r.result_count for r in batch]),
        _plain_array([r.duration_ms for r in batch]),
        [r.created_at for r in batch],
        [hour_of(r.created_at) for r in batch],
        _plain_array([latency_bucket(r.duration_ms) for r in batch]),
        _text_array([t[0] for t in terms]),
        _text_array([t[1] for t in terms]),
        _text_array([t[2] for t in terms]),
        _text_array([json.dumps(r.search_params(), ensure_ascii=False) for r in batch]),
    ]
