"""``python -m benchmarks.instructions``: a worker's CPU instructions per request, under callgrind.

CPU time per request on a machine shared with others moves by 30% from one
5 s round to the next (cache misses, frequency, how requests batch), too
much to see a 5% change. Instructions executed do not depend on the load:
each checkout is served by one uvicorn worker under valgrind's callgrind
(collection off at start), warmed with ``--warm`` requests, then callgrind
counts the instructions of ``--count`` requests sent one at a time, the
same paths in the same order for every checkout. The database's own work is
not counted (it runs in PostgreSQL)::

    python -m benchmarks.instructions --database bench_before \\
        --checkout before=/tmp/before --checkout after=. --scenario author

Needs ``valgrind`` (apt-get install valgrind); a run takes minutes per
checkout (everything runs about 50 times slower under callgrind). The
response cache is off unless ``--cache-mb`` says otherwise; the pool's
timeouts are raised for the slow start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.database import server_dsn, with_database
from benchmarks.run import with_second_pages
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import free_port
from benchmarks.terms import sample_terms

PROJECT_DIR = Path(__file__).resolve().parent.parent
SLOW_START_ENV = {
    "BOOKSTORE_CACHE_MB": "0",
    "BOOKSTORE_DB_CONNECT_TIMEOUT": "60",
    "BOOKSTORE_DB_ACQUIRE_TIMEOUT": "60",
}


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        return int(response.status)


def _total_instructions(output: Path) -> int:
    total = 0
    for part in output.parent.glob(f"{output.name}*"):
        for line in part.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


def instructions_per_request(
    checkout: Path, dsn: str, paths: Sequence[str], *, warm: int, count: int, cache_mb: float
) -> float:
    """Instructions the worker of ``checkout`` executed per request, averaged over ``count``."""
    own = checkout / ".venv" / "bin" / "python"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bookstore-callgrind-") as directory:
        output = Path(directory) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={output}",
            str(own if own.exists() else sys.executable), "-m", "uvicorn", "--factory",
            "bookstore.app:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning",
        ]  # fmt: skip
        env = {
            **os.environ,
            **SLOW_START_ENV,
            "BOOKSTORE_CACHE_MB": f"{cache_mb:g}",
            "DATABASE_URL": dsn,
        }
        with (Path(directory) / "server.log").open("wb") as log:
            server = subprocess.Popen(command, cwd=checkout, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 900
            while True:
                try:
                    if _get(f"{base}/health") == 200:
                        break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((Path(directory) / "server.log").read_text()[-3000:])
                time.sleep(1)
            # sort_price's second pages: cursors this server signed.
            paths = with_second_pages(base, paths)
            for n in range(warm):
                _get(base + paths[n % len(paths)])
            control = ["callgrind_control", "-i", "on", str(server.pid)]
            subprocess.run(control, check=True, capture_output=True)
            for n in range(count):
                status = _get(base + paths[(warm + n) % len(paths)])
                if status != 200:
                    raise RuntimeError(f"{paths[(warm + n) % len(paths)]} answered {status}")
            control[2] = "off"
            subprocess.run(control, check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        return _total_instructions(output) / count


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", required=True, help="a seeded catalog all checkouts read")
    parser.add_argument(
        "--checkout", action="append", required=True, help="NAME=DIR, in the order to report"
    )
    parser.add_argument("--scenario", default="author", choices=[s.value for s in Scenario])
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--cache-mb", type=float, default=0,
        help="the response cache (0, off: the database path); on, with --scenario hot and a"
        " --warm of a few hundred, the requests counted are answered from memory",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    paths = scenario_paths(Scenario(args.scenario), asyncio.run(sample_terms(dsn)))
    first: float | None = None
    for item in args.checkout:
        name, _, directory = item.partition("=")
        per_request = instructions_per_request(
            Path(directory).resolve(),
            dsn,
            paths,
            warm=args.warm,
            count=args.count,
            cache_mb=args.cache_mb,
        )
        first = first or per_request
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(
            f"{stamp} (load {load}) {name}: {per_request / 1e6:.3f} M instructions a "
            f"{args.scenario} request (cache {args.cache_mb:g} MB), x{per_request / first:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
