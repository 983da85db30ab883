"""``python -m benchmarks.tail``: where the slowest requests' time goes, from inside the worker.

wrk reports a p99; it cannot say whether the slow requests waited for a
connection, for PostgreSQL, or for the worker's loop, nor whether they were
spread over the run or all in one bad second. This serves the checkout as
``benchmarks.run`` does (one worker, cache off) but through
``create_probed_app``, which stamps each request (start, connection acquired,
last body byte), times the waits for a connection and for each statement,
the collector's pauses (``gc.callbacks``) and the loop's lag (a 2 ms sleep),
then loads one scenario with wrk and prints the breakdown::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m benchmarks.tail --database bench_1m --scenario category_big

The probe's own cost is a few percent of the worker's CPU: compare its figures
with each other, not with ``benchmarks.run``'s. docs/performance-journal.md, "The tail
at 32 connections", has what it found.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from benchmarks.percentiles import percentile
from benchmarks.run import with_second_pages
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import HOST, ServerSpec, free_port, running_server
from benchmarks.terms import sample_terms
from benchmarks.wrk import lua_script

PROJECT_DIR = Path(__file__).resolve().parent.parent
LAG_INTERVAL_S = 0.002
WINDOW_S = 0.1

Message = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]


class Probe:
    """What the probed app records; one list per kind, cleared by /__probe/reset."""

    def __init__(self) -> None:
        # [start, acquired, last byte, acquire wait, statement wait, statements]
        self.requests: list[list[float]] = []
        self.collections: list[tuple[float, float, int]] = []
        self.lags: list[tuple[float, float]] = []
        self.current: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
            "probe_request", default=None
        )
        self._collection_started = 0.0

    def clear(self) -> None:
        self.requests.clear()
        self.collections.clear()
        self.lags.clear()

    def on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collection_started = time.perf_counter()
        else:
            took = time.perf_counter() - self._collection_started
            self.collections.append((self._collection_started, took, info["generation"]))

    async def watch_loop(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.lags.append((started, time.perf_counter() - started - LAG_INTERVAL_S))


PROBE = Probe()


def _install_timers() -> None:
    """Time the service's waits for a connection and asyncpg's statements, per request."""
    import asyncpg

    from bookstore import database

    acquire = database.BoundedPool._acquire

    async def timed_acquire(self: Any, within_s: float) -> Any:
        started = time.perf_counter()
        try:
            return await acquire(self, within_s)
        finally:
            record = PROBE.current.get()
            if record is not None:
                record[3] += time.perf_counter() - started
                record[1] = record[1] or time.perf_counter()

    database.BoundedPool._acquire = timed_acquire  # type: ignore[method-assign]

    def timed(name: str) -> None:
        statement = getattr(asyncpg.connection.Connection, name)

        async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await statement(self, *args, **kwargs)
            finally:
                record = PROBE.current.get()
                if record is not None:
                    record[4] += time.perf_counter() - started
                    record[5] += 1

        setattr(asyncpg.connection.Connection, name, run)

    for name in ("fetch", "fetchrow", "fetchval", "execute"):
        timed(name)


def create_probed_app() -> ASGIApp:
    """``bookstore.app.create_app()`` with the probe around it (a uvicorn factory)."""
    from bookstore.app import create_app

    _install_timers()
    gc.callbacks.append(PROBE.on_collection)
    app = create_app()
    watching: list[asyncio.Task[None]] = []

    async def probed(scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if not watching:
            watching.append(asyncio.get_running_loop().create_task(PROBE.watch_loop()))
        if scope["path"].startswith("/__probe/"):
            body = b"{}"
            if scope["path"] == "/__probe/dump":
                body = json.dumps(
                    {"requests": PROBE.requests, "gcs": PROBE.collections, "lags": PROBE.lags}
                ).encode()
            else:
                PROBE.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return None
        record = [time.perf_counter(), 0.0, 0.0, 0.0, 0.0, 0.0]
        PROBE.current.set(record)

        async def stamped(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                record[2] = time.perf_counter()
                PROBE.requests.append(record)

        await app(scope, receive, stamped)
        return None

    return probed


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    at = [percentile(ordered, fraction) for fraction in (0.5, 0.9, 0.99)]
    return (
        f"mean {statistics.fmean(ordered):6.1f}  p50 {at[0]:6.1f}  p90 {at[1]:6.1f}  "
        f"p99 {at[2]:6.1f}  max {ordered[-1]:6.1f} ms"
    )


def report(data: dict[str, Any]) -> None:
    """The breakdown of one run: phases, the slowest 1%, the run in 100 ms windows."""
    requests = [r for r in data["requests"] if r[1]]
    ms = 1e3
    phases = {
        "whole (start -> last byte)": [(r[2] - r[0]) * ms for r in requests],
        "before the acquire": [(r[1] - r[0] - r[3]) * ms for r in requests],
        "waiting for a connection": [r[3] * ms for r in requests],
        "waiting for statements": [r[4] * ms for r in requests],
        "the rest (Python, loop turns)": [(r[2] - r[1] - r[4]) * ms for r in requests],
    }
    print(f"requests {len(requests)}")
    for name, values in phases.items():
        print(f"  {name:32} {_percentiles(values)}")
    requests.sort(key=lambda r: r[2] - r[0])
    for name, group in (("slowest 1%", requests[-max(1, len(requests) // 100) :]),
                        ("fastest half", requests[: len(requests) // 2])):  # fmt: skip
        print(
            f"  {name}: acquire {statistics.fmean(r[3] * ms for r in group):.1f} + statements "
            f"{statistics.fmean(r[4] * ms for r in group):.1f} + rest "
            f"{statistics.fmean((r[2] - r[1] - r[4]) * ms for r in group):.1f} ms"
        )
    for generation in (0, 1, 2):
        pauses = [g[1] * ms for g in data["gcs"] if g[2] == generation]
        if pauses:
            print(f"  collections of generation {generation}: {len(pauses)}, "
                  f"{sum(pauses):.0f} ms in all, longest {max(pauses):.1f} ms")  # fmt: skip
    if data["lags"]:
        print(f"  {'loop lag':32} {_percentiles([lag * ms for _, lag in data['lags']])}")
    start = min(r[0] for r in requests)
    windows: dict[int, list[list[float]]] = {}
    for r in requests:
        windows.setdefault(int((r[2] - start) / WINDOW_S), []).append(r)
    rates = [len(windows.get(i, [])) / WINDOW_S for i in range(max(windows))]
    print("  req/s per 100 ms window: " + " ".join(f"{rate:.0f}" for rate in rates))
    slow = sorted({round(r[2] - start, 1) for r in requests[-max(1, len(requests) // 100) :]})
    print(f"  the slowest 1% finished at (s into the run): {slow}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tail", description=__doc__)
    parser.add_argument(
        "--database", required=True, help="a seeded catalog on DATABASE_URL's server"
    )
    parser.add_argument("--scenario", default=Scenario.CATEGORY_BIG.value)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    dsn = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{args.database}"
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.tail:create_probed_app",
        "--host", HOST, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    spec = ServerSpec(
        "probed", command, PROJECT_DIR, port, frozenset(Scenario), {"BOOKSTORE_CACHE_MB": "0"}
    )
    with tempfile.TemporaryDirectory() as logs, running_server(spec, dsn, Path(logs)) as server:
        base = server.base_url
        paths = scenario_paths(Scenario(args.scenario), asyncio.run(sample_terms(dsn)))
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(lua_script(with_second_pages(base, paths)))
            script.flush()
            wrk = ["wrk", "-t2", "--timeout", "10s", "-s", script.name, base]
            subprocess.run([*wrk[:2], "-c8", "-d2s", *wrk[2:]], capture_output=True, check=True)
            urllib.request.urlopen(f"{base}/__probe/reset").read()
            run = [*wrk[:2], f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
            output = subprocess.run([*run, *wrk[2:]], capture_output=True, text=True).stdout
            keep = ("Latency", "50%", "75%", "90%", "99%", "Requests/sec")
            print("\n".join(line for line in output.splitlines() if line.strip().startswith(keep)))
        report(json.load(urllib.request.urlopen(f"{base}/__probe/dump")))


if __name__ == "__main__":
    main()
