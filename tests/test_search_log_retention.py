"""Search-log retention: old days' partitions dropped, rollups kept, `bookstore logs prune`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from bookstore.search_log import SearchRecord
from bookstore.search_log_retention import add_partitions, prune_search_logs, retention_cutoff
from bookstore.tables import SearchLog

NOW = datetime.now(UTC)


def a_search(at: datetime, q: str = "dune") -> SearchRecord:
    return SearchRecord(None, None, f"q={q}", 1, 2.0, q=q, created_at=at)


async def log_searches(app: FastAPI, *records: SearchRecord) -> None:
    for record in records:
        await app.state.search_logger.record(record)
    assert await app.state.search_logger.flush()


async def partition_names() -> set[str]:
    rows = await SearchLog.raw(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'search_logs'::regclass"
    )
    return {row["relname"] for row in rows}


async def prune_command(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bookstore.cli", "logs", "prune", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )


def partition_of(moment: datetime) -> str:
    return f"search_logs_{moment:%Y%m%d}"


async def test_days_older_than_the_retention_are_dropped_and_counted(app: FastAPI) -> None:
    old, older = NOW - timedelta(days=95), NOW - timedelta(days=100)
    kept = NOW - timedelta(days=80)
    await log_searches(app, a_search(older), a_search(old), a_search(old), a_search(kept))

    report = await prune_search_logs(retention_days=90)

    by_day = {dropped.day: dropped.searches for dropped in report.dropped}
    assert by_day[older.date()] == 1
    assert by_day[old.date()] == 2
    assert kept.date() not in by_day
    assert await SearchLog.count() == 1
    names = await partition_names()
    assert partition_of(old) not in names and partition_of(older) not in names
    assert partition_of(kept) in names


async def test_a_day_is_kept_until_all_of_it_is_older_than_the_retention(app) -> None:
    cutoff = retention_cutoff(90, NOW)
    await log_searches(app, a_search(cutoff + timedelta(minutes=1)))
    await log_searches(app, a_search(cutoff - timedelta(minutes=1)))

    report = await prune_search_logs(retention_days=90, now=NOW)

    assert (cutoff - timedelta(days=1)).date() in {d.day for d in report.dropped}
    assert cutoff.date() not in {d.day for d in report.dropped}
    assert await SearchLog.count() == 1


async def test_rollups_outlive_the_raw_rows(app, client) -> None:
    old = NOW - timedelta(days=120)
    await log_searches(app, a_search(old, "solaris"), a_search(old, "solaris"))

    await prune_search_logs(retention_days=90)

    assert await SearchLog.count() == 0
    since = old.replace(hour=0, minute=0, second=0, microsecond=0)
    response = await client.get(
        "/search-logs/stats",
        params={"since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat()},
    )
    body = response.json()
    assert body["searches"] == 2
    assert body["top_queries"][0]["search"] == "solaris"


async def test_a_late_search_for_a_dropped_day_is_still_written(app) -> None:
    old = NOW - timedelta(days=100)
    await log_searches(app, a_search(old))
    await prune_search_logs(retention_days=90)

    await log_searches(app, a_search(old))  # its partition is created again

    assert await SearchLog.count() == 1


async def test_pruning_with_nothing_old_removes_nothing(app) -> None:
    await log_searches(app, a_search(NOW))

    report = await prune_search_logs(retention_days=90)

    assert [d for d in report.dropped if d.searches] == []
    assert await SearchLog.count() == 1


async def test_the_coming_days_partitions_are_created_once() -> None:
    future = datetime(2031, 3, 1, tzinfo=UTC)
    try:
        assert await add_partitions(now=future) == 3
        assert await add_partitions(now=future) == 0
        assert {partition_of(future + timedelta(days=n)) for n in range(3)} <= (
            await partition_names()
        )
    finally:
        for n in range(3):
            await SearchLog.raw(f"DROP TABLE IF EXISTS {partition_of(future + timedelta(days=n))}")


async def test_logs_prune_says_what_it_removed(app) -> None:
    old = NOW - timedelta(days=40)
    await log_searches(app, a_search(old), a_search(old), a_search(NOW))

    pruned = await prune_command("--days", "30")

    assert pruned.returncode == 0, pruned.stderr
    assert f"Removed {old.date().isoformat()}: 2 searches" in pruned.stdout
    assert "(30 days kept)" in pruned.stdout
    assert "Removed 1 hourly search counts" in pruned.stdout
    assert await SearchLog.count() == 1

    again = await prune_command("--days", "30")
    assert again.returncode == 0
    assert "Nothing to remove" in again.stdout


async def rollup_hours(table: str) -> list[datetime]:
    column = "hour" if table == "search_log_terms_hourly" else "day"
    rows = await SearchLog.raw(f"SELECT {column} AS at FROM {table} ORDER BY 1")
    return [row["at"] for row in rows]


async def test_hourly_search_counts_go_with_their_days_and_daily_ones_stay(app, client) -> None:
    old, kept = NOW - timedelta(days=95), NOW - timedelta(days=80)
    await log_searches(app, a_search(old, "solaris"), a_search(old, "ubik"), a_search(kept))

    report = await prune_search_logs(retention_days=90)

    assert report.hourly_terms == 2
    assert await rollup_hours("search_log_terms_hourly") == [
        kept.replace(minute=0, second=0, microsecond=0)
    ]
    assert [day.isoformat() for day in await rollup_hours("search_log_terms_daily")] == [
        old.date().isoformat(),  # solaris
        old.date().isoformat(),  # ubik
        kept.date().isoformat(),
    ]
    (hours,) = await SearchLog.raw("SELECT count(*) AS n FROM search_log_hours")
    assert hours["n"] == 2  # searches per hour are kept: small, and the charts use them
    since = old.replace(hour=0, minute=0, second=0, microsecond=0)
    stats = (
        await client.get(
            "/search-logs/stats",
            params={"since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat()},
        )
    ).json()
    assert {top["search"] for top in stats["top_queries"]} == {"solaris", "ubik"}
    assert (await prune_search_logs(retention_days=90)).hourly_terms == 0
