"""``python -m benchmarks.run``: seed a catalog, serve it, load it with wrk, report.

One command so that every figure in docs/performance.md can be reproduced
the same way::

    python -m benchmarks.run --books 1000000 --duration 10 --connections 32

It seeds ``bookstore_bench`` (once; reused while it holds exactly --books
books), starts the product with ``bookstore serve`` and, when the reference
directory exists, the reference apps; then for every scenario runs wrk
against each target in turn (after a pass over every path of the scenario,
``benchmarks.warm_pass``, and a timed warm-up), and measures what a table
of throughput does not show: one request at a time, /health under load,
whether search logging lost a row, and what logging costs. All servers are
stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.database import (
    BENCH_DATABASE,
    active_statements,
    count_search_logs,
    ensure_anchor_title_index,
    postgres_version,
    prepare_bench_database,
)
from benchmarks.machine import machine_facts
from benchmarks.report import (
    PRODUCT,
    BenchReport,
    Measurement,
    SearchLogCheck,
    WarmPass,
    print_report,
    update_performance_doc,
    write_json,
)
from benchmarks.scenarios import REFERENCE_SCENARIOS, SECOND_PAGE, Scenario, scenario_paths
from benchmarks.servers import (
    Server,
    free_port,
    product_spec,
    reference_spec,
    running_server,
)
from benchmarks.terms import SampledTerms, sample_terms
from benchmarks.warm_pass import WARM_PASS_CONNECTIONS, warm_pass
from benchmarks.wrk import WrkRun, require_wrk, run_wrk

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_DIR / "benchmarks" / "results"
PERFORMANCE_DOC = PROJECT_DIR / "docs" / "performance.md"
DEFAULT_REFERENCE_DIR = PROJECT_DIR.parent / "shared" / "bench" / "anchors"

THREADS = 2
# The target name of the other checkout measured with --baseline.
BASELINE = "baseline"
WARMUP_CONNECTIONS = 8
# The setting a server is started with to measure the product without logging.
SEARCH_LOG_OFF = {"BOOKSTORE_SEARCH_LOG": "off"}
LOG_OFF_TARGET = "product, search log off"
# Every scenario measures the database path, with the response cache off; the
# hot scenario (issue 12) and suggest, which a search box calls on every keystroke
# with the same few prefixes, are measured again with it on, as the product runs
# by default.
CACHE_OFF = {"BOOKSTORE_CACHE_MB": "0"}
CACHE_ON = {"BOOKSTORE_CACHE_MB": "64"}
CACHE_ON_TARGET = "product, cache on"
CACHED_SCENARIOS = frozenset({Scenario.HOT, Scenario.SUGGEST})
BASELINE_CACHE_ON_TARGET = "baseline, cache on"
# Bounds on waiting for a server to drain its backlog, or the log to settle.
IDLE_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 30.0
SETTLED_AFTER_S = 2.0


@dataclass(frozen=True)
class Load:
    """How hard and how long each run loads a target.

    ``warm_pass``: whether each (scenario, target) first requests every one
    of its paths once (``benchmarks.warm_pass``), before the timed warm-up.
    """

    duration_s: int
    connections: int
    warmup_s: int
    warm_pass: bool = True


class Bench:
    """Runs scenarios against servers, recording into ``report``.

    Also counts the product's searches answered 2xx, warm passes and
    warm-ups included: each one should have written one search_logs row.
    """

    def __init__(
        self, load: Load, terms: SampledTerms, report: BenchReport, log_dir: Path, dsn: str
    ) -> None:
        self.dsn = dsn
        self.load = load
        self.terms = terms
        self.report = report
        self.log_dir = log_dir
        self.searches_answered = 0
        self.searches_sent = 0

    def _count(self, server: Server, scenario: Scenario, *, answered: int, sent: int) -> None:
        if server.name in (PRODUCT, CACHE_ON_TARGET) and scenario.is_search:
            self.searches_answered += answered
            self.searches_sent += sent

    def paths(self, server: Server, scenario: Scenario) -> list[str]:
        """What a run of ``scenario`` against ``server`` may send, second pages resolved."""
        return with_second_pages(server.base_url, scenario_paths(scenario, self.terms))

    def warm(self, server: Server, scenario: Scenario, *, target: str | None = None) -> WarmPass:
        """Every distinct path of ``scenario`` requested once: the run after it starts warm."""
        result = warm_pass(server.base_url, self.paths(server, scenario))
        self._count(server, scenario, answered=result.answered_2xx, sent=result.sent)
        warmed = WarmPass(scenario.value, target or server.name, result)
        self.report.warm_passes.append(warmed)
        errors = f"  errors {result.errors}" if result.errors else ""
        print(
            f"  {warmed.scenario:16} {warmed.target:24} warm pass: {result.paths} paths "
            f"in {result.seconds:.1f} s{errors}",
            flush=True,
        )
        return warmed

    def run_once(
        self,
        server: Server,
        scenario: Scenario,
        *,
        connections: int,
        duration_s: int,
        threads: int = THREADS,
        target: str | None = None,
    ) -> Measurement:
        result = run_wrk(
            server.base_url,
            self.paths(server, scenario),
            threads=threads,
            connections=connections,
            duration_s=duration_s,
        )
        measurement = Measurement(scenario.value, target or server.name, connections, result)
        self._count(server, scenario, answered=result.succeeded, sent=result.sent)
        return measurement

    def measure(
        self, server: Server, scenario: Scenario, *, target: str | None = None
    ) -> Measurement:
        """A warm pass over every path, a short warm-up, then the measured run at full load."""
        if self.load.warm_pass:
            self.warm(server, scenario, target=target)
        if self.load.warmup_s > 0:
            self.run_once(
                server,
                scenario,
                connections=min(WARMUP_CONNECTIONS, self.load.connections),
                duration_s=self.load.warmup_s,
            )
        measured = self.run_once(
            server,
            scenario,
            connections=self.load.connections,
            duration_s=self.load.duration_s,
            target=target,
        )
        print(
            f"  {measured.scenario:16} {measured.target:24} "
            f"{measured.result.requests_per_s:8.0f} req/s  p99 {measured.result.p99_ms:.1f} ms"
            f"  errors {measured.result.errors}",
            flush=True,
        )
        wait_until_idle(server, self.report, self.dsn)
        return measured

    def run_scenarios(self, servers: Sequence[Server], scenarios: Sequence[Scenario]) -> None:
        for scenario in scenarios:
            for server in servers:
                if scenario in server.serves:
                    self.report.measurements.append(self.measure(server, scenario))

    def run_single_connection(self, server: Server, scenarios: Sequence[Scenario]) -> None:
        """Latency without queueing: one connection, one request at a time."""
        for scenario in scenarios:
            self.report.single_connection.append(
                self.run_once(
                    server,
                    scenario,
                    connections=1,
                    duration_s=self.load.duration_s,
                    threads=1,
                )
            )

    def run_health_under_load(self, product: Server) -> None:
        """/health p99 on one connection while the author search runs at full load.

        A health check that slows down under load gets a busy instance
        restarted by its orchestrator: it must stay fast.
        """
        search = WrkRun(
            product.base_url,
            scenario_paths(Scenario.AUTHOR, self.terms),
            threads=THREADS,
            connections=self.load.connections,
            duration_s=self.load.duration_s,
        )
        try:
            health = WrkRun(
                product.base_url, ["/health"], threads=1, connections=1,
                duration_s=self.load.duration_s,
            )  # fmt: skip
            try:
                health_result = health.wait()
            finally:
                health.stop()
            search_result = search.wait()
        finally:
            search.stop()
        connections = self.load.connections
        measured = Measurement(Scenario.AUTHOR.value, PRODUCT, connections, search_result)
        self._count(
            product, Scenario.AUTHOR, answered=search_result.succeeded, sent=search_result.sent
        )
        self.report.search_under_health_probe = measured
        self.report.health_under_load = Measurement("health", PRODUCT, 1, health_result)


@functools.lru_cache(maxsize=64)
def _next_page(base_url: str, path: str) -> str:
    """``path`` continued by the ``next_cursor`` its first page answers (the server signs it)."""
    with urllib.request.urlopen(base_url + path, timeout=30) as response:
        cursor = json.load(response)["next_cursor"]
    if cursor is None:
        raise SystemExit(f"{path} has a single page: no second page to measure")
    return f"{path}&{urllib.parse.urlencode({'cursor': cursor})}"


def with_second_pages(base_url: str, paths: Sequence[str]) -> list[str]:
    """``paths`` with each ``SECOND_PAGE`` one replaced by its second page."""
    return [
        _next_page(base_url, path.removeprefix(SECOND_PAGE))
        if path.startswith(SECOND_PAGE)
        else path
        for path in paths
    ]


def _health_seconds(server: Server) -> float | None:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{server.base_url}/health", timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError):
        return None
    return time.perf_counter() - started


def wait_until_idle(server: Server, report: BenchReport, dsn: str) -> None:
    """Wait for the server and the database to finish requests wrk gave up on.

    A server that queues (the naive app blocks its event loop) is still
    answering the abandoned requests of a run when wrk ends, and a server
    whose statements are slow (the floor's q_word, seconds each) leaves them
    running in PostgreSQL; measuring the next target meanwhile would charge
    it for that work (2026-11-29T13:05Z: q_words at 53 req/s right after the
    floor's q_word, 257 when run alone). Idle means three quick /health
    answers in a row with no statement running in the database.
    """
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    quick = 0
    while quick < 3:
        if time.monotonic() > deadline:
            report.note(f"{server.name} was still busy {IDLE_TIMEOUT_S:.0f} s after a run")
            return
        seconds = _health_seconds(server)
        answered = seconds is not None and seconds < 0.1
        quick = quick + 1 if answered and active_statements(dsn) == 0 else 0
        time.sleep(0.1)


def settled_search_log_rows(dsn: str, *, expected: int = 0) -> int:
    """search_logs' row count once it stops growing (writes are batched, asynchronous).

    While fewer than ``expected`` rows are there, waits up to SETTLE_TIMEOUT_S:
    a failed batch is retried a second later, not lost.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    rows = count_search_logs(dsn)
    unchanged_since = time.monotonic()
    while time.monotonic() < deadline:
        settled = time.monotonic() - unchanged_since >= SETTLED_AFTER_S
        if settled and rows >= expected:
            break
        time.sleep(0.25)
        latest = count_search_logs(dsn)
        if latest != rows:
            rows, unchanged_since = latest, time.monotonic()
    return rows


def search_log_honours_off(server: Server, dsn: str, path: str) -> bool:
    """Whether a server started with logging off really writes no row for a search."""
    before = count_search_logs(dsn)
    with urllib.request.urlopen(f"{server.base_url}{path}", timeout=10) as response:
        response.read()
    return settled_search_log_rows(dsn) == before


def start_references(
    servers: ExitStack, reference_dir: Path, dsn: str, report: BenchReport, log_dir: Path
) -> list[Server]:
    """Start the reference apps found in ``reference_dir``; note what was skipped."""
    if not reference_dir.is_dir():
        report.note(f"No reference apps: {reference_dir} does not exist.")
        return []
    modules = ["floor_app"]
    try:
        import psycopg2  # noqa: F401  (the naive app's driver)
    except ImportError:
        report.note(
            "naive reference skipped: psycopg2 is not installed (pip install -e '.[bench]')."
        )
    else:
        modules.append("naive_app")
    started = []
    for module in modules:
        if not (reference_dir / f"{module}.py").exists():
            report.note(f"{module} skipped: not in {reference_dir}.")
            continue
        spec = reference_spec(reference_dir, module, free_port())
        started.append(servers.enter_context(running_server(spec, dsn, log_dir)))
    return started


def measure_logging_cost(bench: Bench, dsn: str) -> None:
    """The author scenario against a product with search logging off, if it can be turned off."""
    spec = product_spec(
        PROJECT_DIR, free_port(), name=LOG_OFF_TARGET, extra_env={**CACHE_OFF, **SEARCH_LOG_OFF}
    )
    with running_server(spec, dsn, bench.log_dir) as server:
        probe = scenario_paths(Scenario.AUTHOR, bench.terms)[0]
        if not search_log_honours_off(server, dsn, probe):
            bench.report.note(
                "Logging cost not measured: a server started with BOOKSTORE_SEARCH_LOG=off "
                "still wrote a search_logs row."
            )
            return
        bench.report.logging_cost = bench.measure(server, Scenario.AUTHOR, target=LOG_OFF_TARGET)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--books", type=int, default=1_000_000, help="catalog size")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32, help="open connections per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument(
        "--warm-pass",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="before each warm-up, request every path of the scenario once"
        f" ({WARM_PASS_CONNECTIONS} connections): the measured run starts warm",
    )
    parser.add_argument(
        "--reference-dir",
        type=Path,
        default=DEFAULT_REFERENCE_DIR,
        help="directory of floor_app.py and naive_app.py (skipped when missing)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(s.value for s in Scenario),
        help="comma-separated subset of: " + ", ".join(s.value for s in Scenario),
    )
    parser.add_argument(
        "--reseed", action="store_true", help="seed again even when the size matches"
    )
    parser.add_argument(
        "--database",
        default=BENCH_DATABASE,
        help="database on DATABASE_URL's server to use (created and seeded when missing;"
        " a copy of a seeded one, createdb -T, is reused as it is)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of the project (e.g. main) served beside this one and"
        " measured in the same run, as target 'baseline': before/after in one run",
    )
    args = parser.parse_args(argv)
    for name in ("books", "duration", "connections"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    try:
        args.scenarios = [Scenario(name.strip()) for name in args.scenarios.split(",")]
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    require_wrk()
    now = datetime.now(UTC)
    started_at, stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / f"{stamp}-logs"
    dsn = prepare_bench_database(
        PROJECT_DIR, books=args.books, reseed=args.reseed, database=args.database
    )
    terms = asyncio.run(sample_terms(dsn))
    load = Load(args.duration, args.connections, args.warmup, args.warm_pass)
    report = BenchReport(
        started_at=started_at,
        settings={
            "books": args.books,
            "duration_s": load.duration_s,
            "connections": load.connections,
            "warmup_s": load.warmup_s,
            "warm_pass": load.warm_pass,
            "warm_pass_connections": WARM_PASS_CONNECTIONS if load.warm_pass else None,
            "threads": THREADS,
            "scenarios": [s.value for s in args.scenarios],
        },
        machine=machine_facts(PROJECT_DIR, postgresql=postgres_version(dsn), books=args.books),
    )
    bench = Bench(load, terms, report, log_dir, dsn)
    searches = [s for s in args.scenarios if s.is_search]
    with ExitStack() as servers:
        print("Starting servers...", flush=True)
        product_off = product_spec(PROJECT_DIR, free_port(), extra_env=CACHE_OFF)
        product = servers.enter_context(running_server(product_off, dsn, log_dir))
        baseline = []
        if args.baseline is not None:
            spec = product_spec(
                args.baseline.resolve(), free_port(), name=BASELINE, extra_env=CACHE_OFF
            )
            baseline.append(servers.enter_context(running_server(spec, dsn, log_dir)))
            report.note(f"baseline: the product of {args.baseline.resolve()}, same database.")
        references = start_references(servers, args.reference_dir.resolve(), dsn, report, log_dir)
        variants = []
        if cached_scenarios := CACHED_SCENARIOS.intersection(args.scenarios):
            cached = product_spec(
                PROJECT_DIR,
                free_port(),
                name=CACHE_ON_TARGET,
                extra_env=CACHE_ON,
                serves=frozenset(cached_scenarios),
            )
            variants.append(servers.enter_context(running_server(cached, dsn, log_dir)))
            if args.baseline is not None:
                # The cache's own path, before and after, in the same run.
                cached = product_spec(
                    args.baseline.resolve(),
                    free_port(),
                    name=BASELINE_CACHE_ON_TARGET,
                    extra_env=CACHE_ON,
                    serves=frozenset(cached_scenarios),
                )
                variants.append(servers.enter_context(running_server(cached, dsn, log_dir)))
        if any(
            scenario in server.serves and scenario not in REFERENCE_SCENARIOS
            for server in references
            for scenario in args.scenarios
        ):
            ensure_anchor_title_index(dsn)
        targets = [product, *baseline, *variants, *references]
        rows_before = count_search_logs(dsn)
        print(f"Load: {load.connections} connections, {load.duration_s} s per run.", flush=True)
        bench.run_scenarios(targets, args.scenarios)
        print("One connection at a time...", flush=True)
        for server in (product, *baseline):
            bench.run_single_connection(server, args.scenarios)
        if Scenario.AUTHOR in args.scenarios:
            print("/health under load...", flush=True)
            bench.run_health_under_load(product)
        if searches:
            report.search_log = SearchLogCheck(
                rows_before=rows_before,
                rows_after=settled_search_log_rows(
                    dsn, expected=rows_before + bench.searches_answered
                ),
                searches_answered=bench.searches_answered,
                searches_sent=bench.searches_sent,
            )
        if Scenario.AUTHOR in args.scenarios:
            print("Logging cost...", flush=True)
            measure_logging_cost(bench, dsn)
    print_report(report)
    results = RESULTS_DIR / f"{stamp}.json"
    write_json(report, results)
    update_performance_doc(report, PERFORMANCE_DOC)
    print(f"\nWrote {results.relative_to(PROJECT_DIR)} (server logs in {log_dir.name}/)")
    print(f"Updated {PERFORMANCE_DOC.relative_to(PROJECT_DIR)}.")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Servers and wrk were stopped on the way out (finally blocks).
        raise SystemExit("interrupted") from None
