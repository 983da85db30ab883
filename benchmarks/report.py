"""What a run found, printed as a table, saved as JSON, and kept in docs/performance.md.

The JSON file (benchmarks/results/<UTC time>.json, not committed) keeps
everything, machine facts included, so runs can be compared later. The doc
keeps only the latest table, between two markers, so that the prose around
it is never touched by a run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.warm_pass import WarmPassResult
from benchmarks.wrk import REQUEST_TIMEOUT_S, WrkResult

RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
PRODUCT = "product"

_NEW_DOC = f"""# Performance

Measured by `python -m benchmarks.run` (README.md, "Benchmarks"); each run rewrites the table.

{RESULTS_START}
{RESULTS_END}
"""


@dataclass(frozen=True)
class Measurement:
    """One wrk run of one scenario against one target."""

    scenario: str
    target: str
    connections: int
    result: WrkResult


@dataclass(frozen=True)
class WarmPass:
    """The pass over every path of one scenario against one target, before its warm-up."""

    scenario: str
    target: str
    result: WarmPassResult


@dataclass(frozen=True)
class SearchLogCheck:
    """Rows written to search_logs against the product's searches.

    wrk counts the answers it received before its duration ended; requests
    still in flight then (about one per connection) were handled, and
    logged, unseen by it. So a lossless log holds at least one row per
    search answered 2xx and at most one per search sent.
    """

    rows_before: int
    rows_after: int
    searches_answered: int
    searches_sent: int

    @property
    def rows_written(self) -> int:
        return self.rows_after - self.rows_before

    @property
    def rows_lost(self) -> int:
        return max(0, self.searches_answered - self.rows_written)

    @property
    def rows_unexplained(self) -> int:
        """Rows beyond the searches sent: written twice, or by someone else."""
        return max(0, self.rows_written - self.searches_sent)


@dataclass
class BenchReport:
    """Everything one run measured."""

    started_at: str
    settings: dict[str, object]
    machine: dict[str, object]
    measurements: list[Measurement] = field(default_factory=list)
    warm_passes: list[WarmPass] = field(default_factory=list)
    single_connection: list[Measurement] = field(default_factory=list)
    health_under_load: Measurement | None = None
    search_under_health_probe: Measurement | None = None
    search_log: SearchLogCheck | None = None
    logging_cost: Measurement | None = None
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Something the reader of the figures must know: said now, and kept in the report."""
        print(text, flush=True)
        self.notes.append(text)

    def ratio_to_product(self, measurement: Measurement) -> float | None:
        """Requests per second relative to the product on the same scenario."""
        for candidate in self.measurements:
            if candidate.scenario == measurement.scenario and candidate.target == PRODUCT:
                base = candidate.result.requests_per_s
                return measurement.result.requests_per_s / base if base else None
        return None

    def table_rows(self) -> list[Measurement]:
        """The main table: every scenario and target, then the logging-cost run."""
        return self.measurements + ([self.logging_cost] if self.logging_cost else [])


# -- text ------------------------------------------------------------------------


def _ratio_text(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}"


def _error_text(result: WrkResult) -> str:
    parts = [f"{count} answered {status}" for status, count in result.statuses.items()]
    if result.timeouts:
        parts.append(f"{result.timeouts} timed out (over {REQUEST_TIMEOUT_S} s)")
    if result.socket_errors:
        parts.append(f"{result.socket_errors} socket errors")
    return ", ".join(parts) or f"{result.errors}"


def _warm_up_text(settings: dict[str, object]) -> str:
    warm_up = f"a {settings['warmup_s']} s warm-up"
    if not settings.get("warm_pass"):
        return warm_up
    return (
        f"a pass over every path once ({settings['warm_pass_connections']} connections) "
        f"and {warm_up}"
    )


def format_table(report: BenchReport) -> str:
    header = (
        f"{'scenario':16} {'target':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'x product':>9}"
    )
    lines = [header, "-" * len(header)]
    for m in report.table_rows():
        r = m.result
        lines.append(
            f"{m.scenario:16} {m.target:24} {r.requests_per_s:8.0f} {r.p50_ms:8.1f} "
            f"{r.p99_ms:8.1f} {r.errors:7d} {_ratio_text(report.ratio_to_product(m)):>9}"
        )
    return "\n".join(lines)


def summary_lines(report: BenchReport) -> list[str]:
    """The measurements outside the main table, one sentence each."""
    lines = []
    targets = dict.fromkeys(m.target for m in report.single_connection)
    for target in targets:
        parts = [
            f"{m.scenario} {m.result.p50_ms:.1f}"
            for m in report.single_connection
            if m.target == target
        ]
        lines.append(
            f"One request at a time ({target}, 1 connection), p50 ms: " + ", ".join(parts)
        )
    if report.health_under_load and report.search_under_health_probe:
        health, search = report.health_under_load.result, report.search_under_health_probe
        lines.append(
            f"/health while author runs at {search.connections} connections: "
            f"p50 {health.p50_ms:.1f} ms, p99 {health.p99_ms:.1f} ms, errors: {health.errors} "
            f"(author meanwhile: {search.result.requests_per_s:.0f} req/s, "
            f"p99 {search.result.p99_ms:.1f} ms)"
        )
    if report.warm_passes:
        seconds = [w.result.seconds for w in report.warm_passes]
        lines.append(
            f"Warm passes (every path once, before each warm-up): {len(seconds)}, "
            f"{min(seconds):.1f} to {max(seconds):.1f} s each, {sum(seconds):.0f} s in all"
        )
    if report.search_log:
        log = report.search_log
        verdict = "no row lost" if log.rows_lost == 0 else f"{log.rows_lost} ROWS LOST"
        if log.rows_unexplained:
            verdict += f", {log.rows_unexplained} ROWS BEYOND THE SEARCHES SENT"
        lines.append(
            f"Search log: {log.searches_answered} searches answered 2xx (warm passes and "
            "warm-ups included), "
            f"{log.rows_written} rows written, {log.searches_sent} searches sent: {verdict} "
            f"({log.rows_written - log.searches_answered} rows for requests in flight when "
            "wrk stopped)"
        )
    for m in [*report.table_rows(), *report.single_connection]:
        if m.result.errors:
            lines.append(f"Errors, {m.scenario} on {m.target}: {_error_text(m.result)}")
    for w in report.warm_passes:
        if w.result.errors:
            lines.append(
                f"Errors in the warm pass, {w.scenario} on {w.target}: "
                + ", ".join(
                    [f"{count} answered {status}" for status, count in w.result.statuses.items()]
                    + ([f"{w.result.failures} unanswered"] if w.result.failures else [])
                )
            )
    if report.health_under_load and report.health_under_load.result.errors:
        lines.append(f"Errors, /health under load: {_error_text(report.health_under_load.result)}")
    lines.extend(report.notes)
    return lines


def print_report(report: BenchReport) -> None:
    print()
    print(format_table(report))
    print()
    for line in summary_lines(report):
        print(line)


# -- JSON -------------------------------------------------------------------------


def _measurement_json(report: BenchReport, measurement: Measurement) -> dict[str, object]:
    result = measurement.result
    return {
        "scenario": measurement.scenario,
        "target": measurement.target,
        "connections": measurement.connections,
        **asdict(result),
        "requests_per_s": round(result.requests_per_s, 1),
        "errors": result.errors,
        "ratio_to_product": report.ratio_to_product(measurement),
    }


def report_json(report: BenchReport) -> dict[str, object]:
    def one(measurement: Measurement | None) -> dict[str, object] | None:
        return None if measurement is None else _measurement_json(report, measurement)

    search_log = None
    if report.search_log is not None:
        search_log = {
            **asdict(report.search_log),
            "rows_written": report.search_log.rows_written,
            "rows_lost": report.search_log.rows_lost,
            "rows_unexplained": report.search_log.rows_unexplained,
        }
    return {
        "started_at": report.started_at,
        "settings": report.settings,
        "machine": report.machine,
        "measurements": [one(m) for m in report.measurements],
        "warm_passes": [
            {"scenario": w.scenario, "target": w.target, **asdict(w.result)}
            for w in report.warm_passes
        ],
        "single_connection": [one(m) for m in report.single_connection],
        "health_under_load": one(report.health_under_load),
        "search_under_health_probe": one(report.search_under_health_probe),
        "search_log": search_log,
        "logging_cost": one(report.logging_cost),
        "notes": report.notes,
    }


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_json(report), indent=2) + "\n")


# -- docs/performance.md -------------------------------------------------------------


def results_markdown(report: BenchReport) -> str:
    settings, machine = report.settings, report.machine
    lines = [
        f"Measured {report.started_at} on {machine['nproc']} x {machine['cpu_model']}, "
        f"{machine['memory_gib']} GiB, PostgreSQL {machine['postgresql']}, "
        f"Python {machine['python']}: {settings['books']:,} books; wrk 2 threads, "
        f"{settings['connections']} connections, {settings['duration_s']} s per run after "
        f"{_warm_up_text(settings)}. One run each on a shared machine: noisy. "
        f"Yardstick (benchmarks/machine.py, a fixed pure-Python loop, best of 5): "
        f"{machine.get('python_speed_ms', 'not taken')} ms; load average "
        f"{machine['load_average_1m']} at the start.",
        "",
        "| scenario | target | req/s | p50 ms | p99 ms | errors | x product |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in report.table_rows():
        r = m.result
        lines.append(
            f"| {m.scenario} | {m.target} | {r.requests_per_s:.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.errors} | {_ratio_text(report.ratio_to_product(m))} |"
        )
    lines.append("")
    lines.extend(f"- {line}" for line in summary_lines(report))
    return "\n".join(lines)


def update_performance_doc(report: BenchReport, path: Path) -> None:
    """Replace what lies between the result markers; create the doc if missing."""
    text = path.read_text() if path.exists() else _NEW_DOC
    if RESULTS_START not in text or RESULTS_END not in text:
        text = text.rstrip("\n") + f"\n\n{RESULTS_START}\n{RESULTS_END}\n"
    before, rest = text.split(RESULTS_START, 1)
    _, after = rest.split(RESULTS_END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{before}{RESULTS_START}\n{results_markdown(report)}\n{RESULTS_END}{after}")
