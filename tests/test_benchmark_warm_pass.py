"""The bench's warm pass: each path a run can send, asked once, and counted as searches."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import TEST_DSN, fetch_on
from servers import running_server

from benchmarks.report import PRODUCT, BenchReport, WarmPass
from benchmarks.run import CACHE_OFF, Bench, Load, parse_args, settled_search_log_rows
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import Server
from benchmarks.terms import SampledTerms, sample_terms
from bookstore.seed import seed_synthetic

BOOKS = 2_000
SAMPLE = 50


def _warm_and_settle(bench: Bench, base_url: str, expected_rows: int) -> tuple[WarmPass, int]:
    """The pass against the product at ``base_url``, then search_logs' settled row count."""
    product = Server(PRODUCT, base_url, frozenset(Scenario))
    warmed = bench.warm(product, Scenario.HOT)
    return warmed, settled_search_log_rows(TEST_DSN, expected=expected_rows)


async def _terms() -> SampledTerms:
    await seed_synthetic(BOOKS)
    return await sample_terms(TEST_DSN, size=SAMPLE)


async def test_the_warm_pass_asks_each_distinct_path_once_and_counts_its_searches(
    tmp_path: Path,
) -> None:
    terms = await _terms()
    # The hot scenario lists its popular searches many times over (Zipf).
    paths = scenario_paths(Scenario.HOT, terms)
    distinct = set(paths)
    assert len(distinct) < len(paths)
    bench = Bench(
        Load(duration_s=1, connections=1, warmup_s=0),
        terms,
        BenchReport(started_at="", settings={}, machine={}),
        tmp_path,
        TEST_DSN,
    )
    with running_server(env=dict(CACHE_OFF)) as server:
        warmed, rows = await asyncio.to_thread(_warm_and_settle, bench, server.url, len(distinct))
    logged = await fetch_on(
        TEST_DSN, "SELECT query, count(*) AS searches FROM search_logs GROUP BY query"
    )
    # Every 2xx search writes one search_logs row: one row per path, none twice.
    assert {row["query"]: row["searches"] for row in logged} == {
        path.partition("?")[2]: 1 for path in distinct
    }
    assert warmed.result.paths == warmed.result.sent == warmed.result.answered_2xx == rows
    assert warmed.result.errors == 0
    # The end-of-run check (rows written against searches answered and sent) sees them.
    assert bench.searches_answered == bench.searches_sent == len(distinct)
    assert bench.report.warm_passes == [warmed]


def test_the_warm_pass_is_on_unless_turned_off() -> None:
    assert parse_args([]).warm_pass is True
    assert parse_args(["--no-warm-pass"]).warm_pass is False
