"""``python -m benchmarks.capacity``: CPU per search, measured, and the capacity plan built on it.

Two commands, so that docs/deployment.md's plan can be redone on other
hardware or after a change::

    python -m benchmarks.capacity measure --database bench_scale --scenario author
    python -m benchmarks.capacity plan --api-ms 0.45 --db-ms 0.30 --hit-api-ms 0.12

``measure`` serves the benchmark database with one worker (cache off, or
on with ``--cache``), loads it with wrk for ``--duration`` seconds, and
divides the CPU time the worker process and the service's PostgreSQL
backends spent (``benchmarks.processes``; the server must run on this machine)
by the requests answered. CPU time, unlike throughput, hardly depends on
what else the machine runs, which makes it the figure to plan with on a
shared machine.

``plan`` turns those figures into cores: API cores for the requests, and
replica cores for the searches the cache does not answer, each kept below
``--utilization`` busy (0.5 by default: at half load a worker's queue stays
short enough for a p99 under 100 ms, see docs/deployment.md).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.database import database_name, server_dsn, with_database
from benchmarks.processes import backend_pids, cpu_seconds, listening_pids
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import free_port, product_spec, running_server
from benchmarks.terms import sample_terms
from benchmarks.wrk import require_wrk, run_wrk

PROJECT_DIR = Path(__file__).resolve().parent.parent


def total_cpu(pids: Sequence[int]) -> float:
    # A backend that closed counts 0: its time is lost (measure() says so).
    return sum(cpu_seconds(pid) for pid in pids)


@dataclass(frozen=True)
class CpuPerRequest:
    scenario: str
    requests: int
    api_ms: float
    db_ms: float
    requests_per_s: float
    p99_ms: float


def measure(
    dsn: str, scenario: Scenario, *, duration_s: int, connections: int, cache: bool
) -> CpuPerRequest:
    terms = asyncio.run(sample_terms(dsn))
    paths = scenario_paths(scenario, terms)
    env = {"BOOKSTORE_CACHE_MB": "64" if cache else "0"}
    spec = product_spec(PROJECT_DIR, free_port(), extra_env=env)
    log_dir = PROJECT_DIR / "benchmarks" / "results" / "capacity-logs"
    database = database_name(dsn)
    with running_server(spec, dsn, log_dir) as server:
        # Warm: the pool's connections open, plans made, pages cached.
        run_wrk(server.base_url, paths, threads=2, connections=connections, duration_s=2)
        [worker] = listening_pids(spec.port)
        # The service's own backends: its pools say application_name=bookstore.
        backends = asyncio.run(backend_pids(dsn, database, application_name="bookstore"))
        api_before, db_before = cpu_seconds(worker), total_cpu(backends)
        result = run_wrk(
            server.base_url, paths, threads=2, connections=connections, duration_s=duration_s
        )
        # Searches are logged after they answer: let the writer finish.
        time.sleep(0.5)
        api_after, db_after = cpu_seconds(worker), total_cpu(backends)
        now = asyncio.run(backend_pids(dsn, database, application_name="bookstore"))
        if sorted(now) != sorted(backends):
            print("note: the pool opened or closed connections during the run")
    answered = max(result.succeeded, 1)
    return CpuPerRequest(
        scenario=scenario.value,
        requests=result.succeeded,
        api_ms=(api_after - api_before) * 1000 / answered,
        db_ms=(db_after - db_before) * 1000 / answered,
        requests_per_s=result.requests_per_s,
        p99_ms=result.p99_ms,
    )


@dataclass(frozen=True)
class Plan:
    searches_per_s: float
    api_cores: float
    replica_cores: float
    replicas: int
    primary_cores: float
    database_connections: int


def plan(
    searches_per_s: float,
    *,
    api_ms: float,
    db_ms: float,
    hit_api_ms: float,
    hit_ratio: float,
    utilization: float,
    cores_per_replica: int,
    log_db_ms: float,
    workers_per_pool: int = 10,
) -> Plan:
    """Cores for ``searches_per_s``, each kind of machine kept ``utilization`` busy.

    Cached answers cost ``hit_api_ms`` of API CPU and nothing in
    PostgreSQL; the others ``api_ms`` and ``db_ms``. Every search is
    logged on the primary (``log_db_ms`` each, batched).
    """
    misses = searches_per_s * (1 - hit_ratio)
    hits = searches_per_s * hit_ratio
    api_cores = (misses * api_ms + hits * hit_api_ms) / 1000 / utilization
    replica_cores = misses * db_ms / 1000 / utilization
    replicas = max(1, math.ceil(replica_cores / cores_per_replica))
    primary_cores = searches_per_s * log_db_ms / 1000 / utilization
    # One worker per API core, each with a pool of workers_per_pool per replica.
    workers = math.ceil(api_cores)
    return Plan(
        searches_per_s=searches_per_s,
        api_cores=api_cores,
        replica_cores=replica_cores,
        replicas=replicas,
        primary_cores=primary_cores,
        database_connections=workers * workers_per_pool,
    )


def print_plan(plans: Sequence[Plan], args: argparse.Namespace) -> None:
    print(
        f"api {args.api_ms} ms, db {args.db_ms} ms, cached {args.hit_api_ms} ms a search; "
        f"hit ratio {args.hit_ratio}, utilization {args.utilization}, "
        f"{args.cores_per_replica} cores a replica, "
        f"log {args.log_db_ms} ms a search on the primary"
    )
    print(
        f"{'searches/s':>11} {'API cores':>10} {'replica cores':>14} {'replicas':>9} "
        f"{'primary cores':>14} {'pooled conns':>13}"
    )
    for p in plans:
        print(
            f"{p.searches_per_s:11,.0f} {p.api_cores:10.1f} {p.replica_cores:14.1f} "
            f"{p.replicas:9d} {p.primary_cores:14.1f} {p.database_connections:13,d}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    measuring = commands.add_parser("measure", help="CPU per request of one scenario")
    measuring.add_argument("--database", default="bookstore_bench")
    measuring.add_argument("--scenario", default="author", choices=[s.value for s in Scenario])
    measuring.add_argument("--duration", type=int, default=10)
    measuring.add_argument("--connections", type=int, default=8)
    measuring.add_argument("--cache", action="store_true", help="with the response cache on")
    planning = commands.add_parser("plan", help="cores for 10,000 and 100,000 searches a second")
    planning.add_argument("--api-ms", type=float, required=True)
    planning.add_argument("--db-ms", type=float, required=True)
    planning.add_argument("--hit-api-ms", type=float, required=True)
    planning.add_argument("--hit-ratio", type=float, default=0.0)
    planning.add_argument("--utilization", type=float, default=0.5)
    planning.add_argument("--cores-per-replica", type=int, default=16)
    planning.add_argument("--log-db-ms", type=float, default=0.02)
    planning.add_argument("--rates", default="10000,100000")
    args = parser.parse_args(argv)
    if args.command == "measure":
        require_wrk()
        dsn = with_database(server_dsn(PROJECT_DIR), args.database)
        figures = measure(
            dsn,
            Scenario(args.scenario),
            duration_s=args.duration,
            connections=args.connections,
            cache=args.cache,
        )
        print(
            f"{figures.scenario} (cache {'on' if args.cache else 'off'}): "
            f"{figures.requests} requests, {figures.requests_per_s:.0f} req/s, "
            f"p99 {figures.p99_ms:.1f} ms; CPU a request: API {figures.api_ms:.3f} ms, "
            f"PostgreSQL {figures.db_ms:.3f} ms"
        )
        return
    rates = [float(rate) for rate in args.rates.split(",")]
    print_plan(
        [
            plan(
                rate,
                api_ms=args.api_ms,
                db_ms=args.db_ms,
                hit_api_ms=args.hit_api_ms,
                hit_ratio=args.hit_ratio,
                utilization=args.utilization,
                cores_per_replica=args.cores_per_replica,
                log_db_ms=args.log_db_ms,
            )
            for rate in rates
        ],
        args,
    )


if __name__ == "__main__":
    main()
