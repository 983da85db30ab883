"""Search insights: what customers search for, how often it finds nothing, how fast.

Read from the rollups the search-log writer keeps (``bookstore.search_log``,
docs/insights.md), never from the raw rows: a dashboard over 30 days of 10
million searches reads a few thousand histogram rows (about 80 latency
buckets a day or an edge hour) and a few thousand top-list index entries,
whatever the traffic was.

>>> stats = await search_stats(StatsRange.around(since=None, until=None, bucket="day"))
>>> stats["p95_ms"], stats["top_queries"][0]["search"]
(12.4, 'dune')

Rollups are kept per hour, so a range is widened to whole hours: ``since``
down to its hour, ``until`` up to the next one. Days are UTC days.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bookstore.catalog.statements import Row
from bookstore.database import connection
from bookstore.errors import InvalidRange
from bookstore.search_log import latency_bucket_upper_ms
from bookstore.tables import SearchLog

Bucket = Literal["hour", "day"]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DEFAULT_RANGE = timedelta(days=7)
# A chart of more points than this is unreadable; a larger range takes bucket=day.
MAX_BUCKETS = 2000
# Each day (and each edge hour) of a range offers its most frequent searches,
# and its most frequent zero-result ones, as candidates for the range's top
# lists: 2 x the list's length, at least 25. Their counts over the range are
# then exact; a search outside every day's candidates is not listed.
CANDIDATES_FACTOR = 2
CANDIDATES_MIN = 25


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceiling(moment: datetime) -> datetime:
    floor = _hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def _day_floor(moment: datetime) -> datetime:
    return moment.replace(hour=0)


def _day_ceiling(moment: datetime) -> datetime:
    floor = _day_floor(moment)
    return floor if floor == moment else floor + DAY


def _aware(moment: datetime) -> datetime:
    """A time without an offset is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StatsRange:
    """Whole hours ``[since, until)`` and the width of the chart's buckets."""

    since: datetime
    until: datetime
    bucket: Bucket

    @classmethod
    def around(
        cls, *, since: datetime | None, until: datetime | None, bucket: Bucket
    ) -> StatsRange:
        """The range asked for, widened to whole hours; by default the last 7 days.

        Raises ``InvalidRange`` when ``until`` is not after ``since`` or the
        chart would have more than ``MAX_BUCKETS`` points.
        """
        try:
            return cls._widened(since, until, bucket)
        except OverflowError:  # year 1 or 9999: beyond what datetime can step over
            raise InvalidRange("since or until is too close to the ends of the calendar") from None

    @classmethod
    def _widened(
        cls, since: datetime | None, until: datetime | None, bucket: Bucket
    ) -> StatsRange:
        end = _hour_ceiling(_aware(until) if until else datetime.now(UTC))
        start = _hour_floor(_aware(since)) if since else end - DEFAULT_RANGE
        if until is not None and since is not None and _aware(until) <= _aware(since):
            raise InvalidRange("until must be later than since")
        if end <= start:
            raise InvalidRange("until must be later than since")
        step = HOUR if bucket == "hour" else DAY
        first = start if bucket == "hour" else _day_floor(start)
        if (end - first) / step > MAX_BUCKETS:
            raise InvalidRange(
                f"more than {MAX_BUCKETS} {bucket}s: narrow the range"
                + (" or use bucket=day" if bucket == "hour" else "")
            )
        return cls(start, end, bucket)

    @classmethod
    def last(cls, duration: timedelta, bucket: Bucket) -> StatsRange:
        """The whole hours of ``duration`` up to the end of the current hour."""
        end = _hour_ceiling(datetime.now(UTC))
        return cls.around(since=end - duration, until=end, bucket=bucket)

    def bucket_starts(self) -> list[datetime]:
        """Every bucket of the chart, the empty ones too (a day bucket starts at 00:00 UTC)."""
        step = HOUR if self.bucket == "hour" else DAY
        moment = self.since if self.bucket == "hour" else _day_floor(self.since)
        starts = []
        while moment < self.until:
            starts.append(moment)
            moment += step
        return starts

    def whole_days(self) -> tuple[datetime, datetime]:
        """``[first, last)``: the days wholly inside the range (first == last: none)."""
        first, last = _day_ceiling(self.since), _day_floor(self.until)
        return (first, last) if first < last else (first, first)

    def edge_hours(self) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        """The hours outside ``whole_days``: before them, and after them."""
        first, last = self.whole_days()
        if first == last:
            return (self.since, self.until), (self.until, self.until)
        return (self.since, first), (last, self.until)


def percentile_ms(histogram: dict[int, int], fraction: float) -> float | None:
    """The ``fraction`` percentile (nearest rank) of a latency histogram, rounded to 0.1 ms.

    The upper bound of the bucket holding it: never below the true value,
    at most 10% above (``bookstore.search_log.latency_bucket``).
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(latency_bucket_upper_ms(bucket), 1)
    raise AssertionError("unreachable: the ranks add up to the total")


# The histogram rows of the range, by chart bucket: for day buckets, whole
# days from search_log_days and the edge hours from search_log_hours; for
# hour buckets, search_log_hours. Then one row per chart bucket (its total,
# zero-result searches and the latency bucket of its 95th percentile, nearest
# rank) and one per latency bucket for the whole range (for p50 and p95).
_HISTOGRAM_SOURCE_BY_DAY = """
    SELECT day::timestamptz AS start, latency_bucket, searches, zero_results
    FROM search_log_days
    WHERE day >= $1::timestamptz::date AND day < $2::timestamptz::date
    UNION ALL
    SELECT date_trunc('day', hour), latency_bucket, searches, zero_results
    FROM search_log_hours
    WHERE hour >= $3 AND hour < $4 OR hour >= $5 AND hour < $6
"""
_HISTOGRAM_SOURCE_BY_HOUR = """
    SELECT hour AS start, latency_bucket, searches, zero_results
    FROM search_log_hours
    WHERE hour >= $3 AND hour < $4 OR hour >= $5 AND hour < $6
       OR hour >= $1 AND hour < $2
"""
_HISTOGRAM = """
WITH source AS ({source}), grouped AS (
    SELECT start, latency_bucket, sum(searches) AS searches, sum(zero_results) AS zero_results
    FROM source GROUP BY 1, 2
), running AS (
    SELECT start, latency_bucket, zero_results,
           sum(searches) OVER (PARTITION BY start) AS total,
           sum(searches) OVER (PARTITION BY start ORDER BY latency_bucket) AS cumulative
    FROM grouped
)
SELECT start, max(total)::bigint AS searches, sum(zero_results)::bigint AS zero_results,
       min(latency_bucket) FILTER (WHERE cumulative >= ceil(0.95 * total)) AS p95_bucket
FROM running GROUP BY start
UNION ALL
SELECT NULL, sum(searches)::bigint, sum(zero_results)::bigint, latency_bucket
FROM grouped GROUP BY latency_bucket
"""
HISTOGRAM_BY = {
    "day": _HISTOGRAM.format(source=_HISTOGRAM_SOURCE_BY_DAY),
    "hour": _HISTOGRAM.format(source=_HISTOGRAM_SOURCE_BY_HOUR),
}


# Candidates: each whole day's and each edge hour's most frequent searches
# (and zero-result searches), read in order and index-only off the *_top_*
# indexes. Totals: each candidate's count over the range, whole days from the
# daily rollup and edge hours from the hourly one (*_search_idx). Then each
# list's first $7, and one way each was typed.
_TOP_SEARCHES = """
WITH days AS (
    SELECT d::date AS day
    FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 day', interval '1 day') d
), hours AS (
    SELECT h AS hour
    FROM generate_series($3::timestamptz, $4::timestamptz - interval '1 hour', interval '1 hour') h
    UNION ALL
    SELECT h
    FROM generate_series($5::timestamptz, $6::timestamptz - interval '1 hour', interval '1 hour') h
), candidates AS (
    SELECT c.* FROM days, LATERAL (
        SELECT q, author, category FROM search_log_terms_daily t
        WHERE t.day = days.day ORDER BY t.searches DESC LIMIT $8) c
    UNION
    SELECT c.* FROM days, LATERAL (
        SELECT q, author, category FROM search_log_terms_daily t
        WHERE t.day = days.day AND t.zero_results > 0 ORDER BY t.zero_results DESC LIMIT $8) c
    UNION
    SELECT c.* FROM hours, LATERAL (
        SELECT q, author, category FROM search_log_terms_hourly t
        WHERE t.hour = hours.hour ORDER BY t.searches DESC LIMIT $8) c
    UNION
    SELECT c.* FROM hours, LATERAL (
        SELECT q, author, category FROM search_log_terms_hourly t
        WHERE t.hour = hours.hour AND t.zero_results > 0 ORDER BY t.zero_results DESC LIMIT $8) c
), totals AS (
    SELECT s.q, s.author, s.category,
           sum(counts.searches)::bigint AS searches,
           sum(counts.zero_results)::bigint AS zero_results
    FROM candidates s, LATERAL (
        SELECT t.searches, t.zero_results FROM search_log_terms_daily t
        WHERE (t.q, t.author, t.category) = (s.q, s.author, s.category)
          AND t.day >= $1::timestamptz::date AND t.day < $2::timestamptz::date
        UNION ALL
        SELECT t.searches, t.zero_results FROM search_log_terms_hourly t
        WHERE (t.q, t.author, t.category) = (s.q, s.author, s.category)
          AND t.hour >= $3 AND t.hour < $4
        UNION ALL
        SELECT t.searches, t.zero_results FROM search_log_terms_hourly t
        WHERE (t.q, t.author, t.category) = (s.q, s.author, s.category)
          AND t.hour >= $5 AND t.hour < $6
    ) counts
    GROUP BY s.q, s.author, s.category
), listed AS (
    (SELECT * FROM totals ORDER BY searches DESC, q, author, category LIMIT $7)
    UNION
    (SELECT * FROM totals WHERE zero_results > 0
     ORDER BY zero_results DESC, searches DESC, q, author, category LIMIT $7)
)
SELECT listed.*,
       (SELECT t.params FROM search_log_terms_daily t
        WHERE (t.q, t.author, t.category) = (listed.q, listed.author, listed.category)
        ORDER BY t.day DESC LIMIT 1) AS params
FROM listed
"""


def _search_label(row: Row) -> str:
    """``"dune"``, or ``"author: le guin · category: fantasy"`` for a search by names."""
    if row["q"]:
        return str(row["q"])
    return " · ".join(f"{name}: {row[name]}" for name in ("author", "category") if row[name])


def _top_search(row: Row) -> Row:
    params = row["params"]
    if isinstance(params, str):  # asyncpg hands jsonb over as text
        params = json.loads(params)
    return {
        "search": _search_label(row),
        "q": row["q"] or None,
        "author": row["author"] or None,
        "category": row["category"] or None,
        "searches": row["searches"],
        "zero_result_searches": row["zero_results"],
        "params": params,
    }


def candidates_per_period(top: int) -> int:
    """How many searches of each day (or edge hour) are candidates for a list of ``top``."""
    return max(CANDIDATES_MIN, CANDIDATES_FACTOR * top)


def _range_arguments(stats_range: StatsRange) -> tuple[datetime, ...]:
    days = stats_range.whole_days()
    before, after = stats_range.edge_hours()
    return (*days, *before, *after)


async def search_stats(stats_range: StatsRange, top: int = 20) -> Row:
    """Totals, percentiles, top lists and the chart's buckets for ``stats_range``."""
    # One snapshot for both statements: the top lists add up to the totals.
    async with (
        connection(SearchLog._meta.db) as db,
        db.transaction(isolation="repeatable_read", readonly=True),
    ):
        # Day buckets and day arithmetic in UTC, whatever the server's zone.
        # No JIT: the planner's row estimates for the LATERAL lists are far
        # above the few thousand rows read, and compiling took seconds.
        await db.execute("SET LOCAL TIME ZONE 'UTC'; SET LOCAL jit = off")
        arguments = _range_arguments(stats_range)
        histogram_rows = await db.fetch(HISTOGRAM_BY[stats_range.bucket], *arguments)
        top_rows = await db.fetch(_TOP_SEARCHES, *arguments, top, candidates_per_period(top))
    overall: dict[int, int] = {}
    by_start: dict[datetime, Row] = {}
    for row in histogram_rows:
        if row["start"] is None:
            overall[row["p95_bucket"]] = row["searches"]
        else:
            by_start[row["start"].astimezone(UTC)] = dict(row)
    searches = sum(overall.values())
    zero_results = sum(row["zero_results"] for row in by_start.values())

    candidates = [_top_search(dict(row)) for row in top_rows]
    by_count = sorted(candidates, key=lambda s: (-s["searches"], s["search"]))
    by_zero = sorted(
        (s for s in candidates if s["zero_result_searches"] > 0),
        key=lambda s: (-s["zero_result_searches"], -s["searches"], s["search"]),
    )
    empty: Row = {"searches": 0, "zero_results": 0, "p95_bucket": None}
    return {
        "since": stats_range.since,
        "until": stats_range.until,
        "bucket": stats_range.bucket,
        "searches": searches,
        "zero_result_searches": zero_results,
        "zero_result_rate": round(zero_results / searches, 4) if searches else None,
        "p50_ms": percentile_ms(overall, 0.50),
        "p95_ms": percentile_ms(overall, 0.95),
        "top_queries": by_count[:top],
        "top_zero_result": by_zero[:top],
        "by_bucket": [
            {
                "start": start,
                "searches": bucket["searches"],
                "zero_result_searches": bucket["zero_results"],
                "p95_ms": None
                if bucket["p95_bucket"] is None
                else round(latency_bucket_upper_ms(bucket["p95_bucket"]), 1),
            }
            for start in stats_range.bucket_starts()
            for bucket in [by_start.get(start, empty)]
        ],
    }
