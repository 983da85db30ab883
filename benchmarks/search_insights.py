"""``python -m benchmarks.search_insights``: search insights over a big search log.

The target (issue 11): with 10,000,000 logged searches over 30 days,
``GET /search-logs/stats`` answers for 30 days in at most 200 ms and for one
day in at most 50 ms, one request at a time. This

1. fills a database of its own (``--database``, created and migrated if
   missing; never the catalog's) with ``--rows`` searches spread over
   ``--days`` days ending now, generated in SQL: a long tail of 50,000
   distinct searches (rank r drawn log-uniformly: Zipf-like), 80% of them
   search-box texts in varied case and spacing, 15% author names, 5% by ids
   only; a tenth of the texts never find anything; durations exponential
   around 8 ms. They are rolled up with the migration's own statements;
2. starts the service (``bookstore serve``, one worker) on it and asks for
   the stats of the last 30 days (day buckets), 7 days, 24 hours (hour
   buckets) and one day, ``--repeat`` times each, one request at a time;
3. times the search-log writer's batch of 1,000 with and without its
   rollups, in the same run (the price of rolling up as rows are written;
   each batch rolled back).

::

    flock -x /work/bench.lock python -m benchmarks.search_insights \\
        --server postgresql://postgres@127.0.0.1:5432/postgres --rows 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from piccolo.querystring import QueryString

from benchmarks.database import with_database
from benchmarks.servers import free_port, product_spec, running_server

PROJECT_DIR = Path(__file__).resolve().parent.parent
TOKEN_NAME = "bench-insights"

_GENERATE = """
INSERT INTO search_logs (author, category, q, query, result_count, duration_ms, created_at)
SELECT CASE WHEN kind = 'author' THEN 'Author ' || (rank % 3000) END,
       NULL,
       CASE WHEN kind = 'q' THEN
           CASE WHEN rank % 3 = 0 THEN upper('term ' || rank)
                WHEN rank % 3 = 1 THEN '  term  ' || rank
                ELSE 'term ' || rank END
       END,
       'generated',
       CASE WHEN kind = 'q' AND rank % 10 = 0 THEN 0 ELSE 1 + rank % 20 END,
       -ln(1 - random()) * 8,
       $2::timestamptz + (n::double precision / $1) * ($3::timestamptz - $2::timestamptz)
FROM (
    SELECT n,
           floor(exp(random() * ln(50000)))::int AS rank,
           CASE WHEN random() < 0.80 THEN 'q' WHEN random() < 0.75 THEN 'author' ELSE 'ids' END
               AS kind
    FROM generate_series($4::bigint, $5::bigint - 1) AS n
) AS generated
"""


def _bookstore(*args: str, dsn: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "bookstore.cli", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


async def _prepare(server: str, database: str, rows: int, days: int) -> tuple[str, str]:
    """The database filled with ``rows`` searches (reused when it already has them), a token."""
    admin = await asyncpg.connect(server)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = with_database(server, database)
    _bookstore("migrate", dsn=dsn)
    connection = await asyncpg.connect(dsn)
    try:
        have = await connection.fetchval("SELECT coalesce(sum(searches), 0) FROM search_log_days")
        # Reused within 1% (an interrupted run may have left a few rows behind).
        if not rows <= have <= rows * 1.01:
            await _generate(connection, rows, days)
            have = rows
        print(f"{int(have):,} searches in {database}", flush=True)
        await connection.execute("DELETE FROM api_tokens WHERE name = $1", TOKEN_NAME)
    finally:
        await connection.close()
    return dsn, _bookstore("token", "create", TOKEN_NAME, dsn=dsn)


async def _generate(connection: asyncpg.Connection, rows: int, days: int) -> None:
    from piccolo_migrations.bookstore_2026_11_29t03_35_00_000000 import ROLL_UP_EXISTING_ROWS

    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    await connection.execute(
        "TRUNCATE search_logs, search_log_hours, search_log_days, search_log_terms_hourly,"
        " search_log_terms_daily"
    )
    await connection.execute(
        "SELECT search_logs_add_partitions($1, $2)", since.date(), until.date() + timedelta(2)
    )
    started = time.perf_counter()
    chunk = 1_000_000
    for first in range(0, rows, chunk):
        await connection.execute(_GENERATE, rows, since, until, first, min(rows, first + chunk))
        print(f"  generated {min(rows, first + chunk):,} rows", flush=True)
    print(f"generated {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    async with connection.transaction():
        await connection.execute("SET LOCAL work_mem = '256MB'")
        for statement in ROLL_UP_EXISTING_ROWS:
            await connection.execute(statement)
    await connection.execute("VACUUM ANALYZE")
    print(f"rolled up in {time.perf_counter() - started:.0f} s", flush=True)


def _time_requests(base_url: str, token: str, params: dict[str, str], repeat: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(repeat + 2):
            started = time.perf_counter()
            response = client.get("/search-logs/stats", params=params)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return timings[2:]  # the first two warm the connection and the plans


async def _time_writer(dsn: str, batches: int) -> dict[str, float]:
    """Milliseconds per batch of 1,000: the writer's statement, and the raw INSERT alone."""
    from bookstore.search_log import _INSERT_BATCH, SearchRecord, batch_arguments

    now = datetime.now(UTC)
    records = [
        SearchRecord(None, None, "q=...", n % 20, 1.0 + n % 50, q=f"T {n % 400}", created_at=now)
        for n in range(1000)
    ]
    columns = [
        [r.author for r in records],
        [r.category for r in records],
        [r.q for r in records],
        [r.query for r in records],
        [r.result_count for r in records],
        [r.duration_ms for r in records],
        [r.created_at for r in records],
    ]
    with_rollups = batch_arguments(records)
    with_rollups_sql, _ = QueryString(_INSERT_BATCH, *with_rollups).compile_string(
        engine_type="postgres"
    )
    raw_only_sql = """
        INSERT INTO search_logs (author, category, q, query, result_count, duration_ms, created_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[],
                             $6::double precision[], $7::timestamptz[])
    """
    connection = await asyncpg.connect(dsn)
    timings: dict[str, list[float]] = {"raw rows only": [], "raw rows and rollups": []}
    try:
        for _round in range(batches):
            for name, sql, arguments in (
                ("raw rows only", raw_only_sql, columns),
                ("raw rows and rollups", with_rollups_sql, with_rollups),
            ):
                # Rolled back: the log keeps exactly --rows searches for the next run.
                transaction = connection.transaction()
                await transaction.start()
                started = time.perf_counter()
                await connection.execute(sql, *arguments)
                timings[name].append((time.perf_counter() - started) * 1000)
                await transaction.rollback()
    finally:
        await connection.close()
    return {name: statistics.median(values) for name, values in timings.items()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.search_insights",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a DSN on the PostgreSQL server to use (its database is not touched)",
    )
    parser.add_argument("--database", default="bench_insights", help="the log's own database")
    parser.add_argument("--rows", type=int, default=10_000_000, help="searches to generate")
    parser.add_argument("--days", type=int, default=30, help="spread over this many days")
    parser.add_argument("--repeat", type=int, default=20, help="requests per range")
    parser.add_argument("--writer-batches", type=int, default=20, help="writer batches timed")
    parser.add_argument(
        "--prepare-only", action="store_true", help="fill the database, measure nothing"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    dsn, token = asyncio.run(_prepare(args.server, args.database, args.rows, args.days))
    if args.prepare_only:
        return
    now = datetime.now(UTC)
    ranges = {
        "30 days, by day": {"since": (now - timedelta(days=30)).isoformat(), "bucket": "day"},
        "30 days, by hour": {"since": (now - timedelta(days=30)).isoformat(), "bucket": "hour"},
        "7 days, by day (default)": {},
        "24 hours, by hour": {"since": (now - timedelta(hours=24)).isoformat(), "bucket": "hour"},
        "one UTC day, by hour": {
            "since": (now - timedelta(days=3)).date().isoformat() + "T00:00:00Z",
            "until": (now - timedelta(days=2)).date().isoformat() + "T00:00:00Z",
            "bucket": "hour",
        },
    }
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}")
    log_dir = Path(tempfile.mkdtemp(prefix="bookstore-search-insights-"))
    with running_server(product_spec(PROJECT_DIR, free_port()), dsn, log_dir) as server:
        for name, params in ranges.items():
            timings = _time_requests(server.base_url, token, params, args.repeat)
            print(
                f"  {name:28} median {statistics.median(timings):6.1f} ms"
                f"  max {max(timings):6.1f} ms  ({len(timings)} requests)"
            )
    writer = asyncio.run(_time_writer(dsn, args.writer_batches))
    for name, milliseconds in writer.items():
        print(f"  writer batch of 1,000, {name:22} median {milliseconds:6.1f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
