"""``python -m benchmarks.cpu_per_request``: the worker's and PostgreSQL's CPU per request.

Requests per second on a shared machine move 20-30% from run to run; the CPU
each request costs moves less. Each checkout is served by one worker (cache
off, as ``benchmarks.run`` serves it) on the same database; the checkouts
are loaded in turn with wrk, round after round, and for each run the CPU
time (user + system, from /proc) of the worker and of every PostgreSQL
backend connected to the database is divided by the requests answered. The
backends include the search log's writer and the catalog version's poll,
which belong to the request path's cost::

    python -m benchmarks.cpu_per_request --database bench_req100k \\
        --checkout before=/work/wt/base --checkout after=. --scenario category_big

``--scenario`` may be given several times: each round then loads every
checkout with each scenario in turn, so that a search and the listing it is
judged against are paired under the same load (a request's CPU moves with
the machine's load, by a factor of two between a quiet run and one with the
other sessions measuring)::

    python -m benchmarks.cpu_per_request --database bench_1m --checkout main=. \\
        --scenario q_prefix --scenario category_big --connections 32

The database must have no other clients while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.database import server_dsn, with_database
from benchmarks.processes import backend_pids, cpu_seconds, listening_pids
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import free_port, product_spec, running_server
from benchmarks.terms import sample_terms
from benchmarks.wrk import run_wrk

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu_per_request", description=__doc__
    )
    parser.add_argument("--database", required=True)
    parser.add_argument("--checkout", action="append", required=True, help="NAME=DIR")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.value for s in Scenario],
        help="category_big unless given; several: paired in each round",
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    terms = asyncio.run(sample_terms(dsn))
    scenarios = args.scenario or [Scenario.CATEGORY_BIG.value]
    paths_of = {name: scenario_paths(Scenario(name), terms) for name in scenarios}
    log_dir = PROJECT_DIR / "benchmarks" / "results" / "cpu-per-request"
    with contextlib.ExitStack() as stack:
        served = []
        for item in args.checkout:
            name, _, directory = item.partition("=")
            spec = product_spec(
                Path(directory).resolve(),
                free_port(),
                name=name,
                extra_env={"BOOKSTORE_CACHE_MB": "0"},
            )
            server = stack.enter_context(running_server(spec, dsn, log_dir))
            [worker] = listening_pids(spec.port)
            served.append((name, server, worker))
        for _ in range(args.rounds):
            for scenario, (name, server, worker) in itertools.product(scenarios, served):
                paths = paths_of[scenario]
                run_wrk(
                    server.base_url, paths, threads=2, connections=args.connections, duration_s=1
                )
                backends = asyncio.run(backend_pids(dsn, args.database))
                worker_before = cpu_seconds(worker)
                database_before = sum(cpu_seconds(pid) for pid in backends)
                result = run_wrk(
                    server.base_url,
                    paths,
                    threads=2,
                    connections=args.connections,
                    duration_s=args.duration,
                )
                time.sleep(0.3)  # the search log's last batch
                worker_us = (cpu_seconds(worker) - worker_before) * 1e6 / result.requests
                database_us = (
                    (sum(cpu_seconds(pid) for pid in backends) - database_before)
                    * 1e6
                    / result.requests
                )
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                load = Path("/proc/loadavg").read_text().split()[0]
                print(
                    f"{stamp} (load {load}) {scenario} {name}: "
                    f"{result.requests_per_s:.0f} req/s, worker {worker_us:.0f} us, "
                    f"PostgreSQL {database_us:.0f} us a request",
                    flush=True,
                )


if __name__ == "__main__":
    main()
