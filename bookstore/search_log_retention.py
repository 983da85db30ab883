"""Search-log retention: raw rows kept ``search_log_retention_days``, a whole day at a time.

``search_logs`` is partitioned by UTC day (``search_logs_YYYYMMDD``, see the
migration of 2026-11-29T03:35). Removing a day is detaching and dropping its
partition: no row-by-row ``DELETE`` (hours of I/O, bloat and WAL for 86
million rows), and no lock that stops the writer or the admin. ``DETACH
PARTITION ... CONCURRENTLY`` takes only a SHARE UPDATE EXCLUSIVE lock on
``search_logs`` and waits for the transactions still reading the day, then
``DROP TABLE`` removes a table nobody else can see any more.

The rollups outlive the raw rows, but not all of them forever. The
searches per hour and per day (``search_log_hours``, ``search_log_days``:
at most ~80 latency buckets an hour) and the searches per day
(``search_log_terms_daily``) are kept: the insights still cover the days
whose raw rows are gone. The searches per hour (``search_log_terms_hourly``)
hold one row per distinct search an hour, as many as the raw log when most
searches are distinct, and serve only the ragged edge hours of a range:
they go with the raw rows of their day, one hour per ``DELETE`` (a bounded
statement, a short transaction; VACUUM gives the space to the coming
hours). A range older than the retention is then counted by whole days in
the top lists (its totals and charts keep their hours).

A day goes when all of it is older than the retention: with 90 days, the
day of 2026-08-30 goes once 2026-11-29 00:00 UTC has passed.

>>> report = await prune_search_logs(retention_days=90)
>>> [(day.day, day.searches) for day in report.dropped]
[(datetime.date(2026, 8, 30), 86400000)]

It runs hourly in the service (``SearchLogMaintenance``) and by hand with
``bookstore logs prune``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bookstore.background import Periodic
from bookstore.search_log import PARTITIONS_AHEAD_DAYS, forget_partitions
from bookstore.tables import SearchLog

logger = logging.getLogger(__name__)

_PARTITION_NAME = re.compile(r"^search_logs_(\d{8})$")

_PARTITIONS = """
SELECT c.relname AS name, i.inhdetachpending AS detach_pending
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'search_logs'::regclass
"""

_SEARCHES_OF_DAY = """
SELECT coalesce(sum(searches), 0)::bigint AS searches FROM search_log_days WHERE day = {}
"""


@dataclass(frozen=True)
class DroppedDay:
    day: date
    # From the daily rollup, written with the rows: exact, and free to read.
    searches: int


@dataclass
class PruneReport:
    """What a prune removed: every row created before ``cutoff``, a day at a time."""

    cutoff: datetime
    dropped: list[DroppedDay] = field(default_factory=list)
    # Rows of search_log_terms_hourly removed (hours before ``cutoff``).
    hourly_terms: int = 0

    @property
    def searches(self) -> int:
        return sum(day.searches for day in self.dropped)


def retention_cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    """The start of the oldest UTC day to keep: whole days older than the retention go."""
    moment = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=retention_days)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def _partitions() -> list[tuple[date, str, bool]]:
    partitions = []
    for row in await SearchLog.raw(_PARTITIONS):
        match = _PARTITION_NAME.match(row["name"])
        if match:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()
            partitions.append((day, row["name"], row["detach_pending"]))
    return sorted(partitions)


async def prune_search_logs(retention_days: int, now: datetime | None = None) -> PruneReport:
    """Drop the day partitions of ``search_logs`` wholly older than ``retention_days``.

    Oldest first; a day whose detach was interrupted (the process stopped
    while it waited) is finished, then dropped.
    """
    report = PruneReport(cutoff=retention_cutoff(retention_days, now))
    for day, name, detach_pending in await _partitions():
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if start + timedelta(days=1) > report.cutoff:
            break
        (counted,) = await SearchLog.raw(_SEARCHES_OF_DAY, day)
        # The name comes from the catalog and matched search_logs_\d{8}: safe to quote.
        mode = "FINALIZE" if detach_pending else "CONCURRENTLY"
        await SearchLog.raw(f'ALTER TABLE search_logs DETACH PARTITION "{name}" {mode}')
        await SearchLog.raw(f'DROP TABLE "{name}"')
        report.dropped.append(DroppedDay(day, counted["searches"]))
    if report.dropped:
        forget_partitions()
    report.hourly_terms = await prune_hourly_terms(report.cutoff)
    return report


async def prune_hourly_terms(cutoff: datetime) -> int:
    """Delete the rows of ``search_log_terms_hourly`` before ``cutoff``, an hour at a time.

    Each hour is one ``DELETE`` on the primary key's leading column, its own
    transaction: the writer's upserts of the current hour never wait on it,
    and a stop half-way leaves whole hours.
    """
    removed = 0
    while True:
        (oldest,) = await SearchLog.raw(
            "SELECT min(hour) AS hour FROM search_log_terms_hourly WHERE hour < {}", cutoff
        )
        if oldest["hour"] is None:
            return removed
        (deleted,) = await SearchLog.raw(
            "WITH gone AS (DELETE FROM search_log_terms_hourly WHERE hour = {} RETURNING 1)"
            " SELECT count(*) AS rows FROM gone",
            oldest["hour"],
        )
        removed += deleted["rows"]


async def add_partitions(now: datetime | None = None) -> int:
    """Create today's partition and the next days', if missing; how many were created."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    (row,) = await SearchLog.raw(
        "SELECT search_logs_add_partitions({}, {}) AS created",
        today,
        today + timedelta(days=PARTITIONS_AHEAD_DAYS),
    )
    return int(row["created"])


class SearchLogMaintenance:
    """Every ``interval_s``: the coming days' partitions created, expired days dropped.

    Each worker of the service runs one; they agree through the database
    (an advisory lock for creation, and a dropped day is not listed again).
    """

    def __init__(self, retention_days: int, interval_s: float = 3600.0) -> None:
        self.retention_days = retention_days
        self._periodic = Periodic("search-log-maintenance", self.run_once, interval_s)

    async def run_once(self) -> PruneReport:
        await add_partitions()
        report = await prune_search_logs(self.retention_days)
        for dropped in report.dropped:
            logger.info(
                "search log retention: dropped %s (%d searches)", dropped.day, dropped.searches
            )
        if report.hourly_terms:
            logger.info(
                "search log retention: %d hourly search rows before %s removed",
                report.hourly_terms,
                report.cutoff,
            )
        return report

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
