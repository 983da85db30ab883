"""``python -m benchmarks.admin_logins``: do admin sign-ins slow the searches?

Each admin login hashes the password with PBKDF2 (600,000 rounds). Run on the
event loop, as Piccolo's ``BaseUser.login`` does, every search in flight
waits for it. This loads the product with author searches (wrk) for
``--duration`` seconds, alternately without and with ``--logins`` sign-ins
per second (half right, half wrong), and prints the searches' p99 in each::

    python -m benchmarks.admin_logins --books 100000 --logins 20

The target: p99 with logins within 20% of p99 without. ``--project-dir``
measures another checkout (e.g. one before the change) the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from benchmarks.database import prepare_bench_database
from benchmarks.scenarios import Scenario, scenario_paths
from benchmarks.servers import free_port, product_spec, running_server
from benchmarks.terms import sample_terms
from benchmarks.wrk import require_wrk, run_wrk

PROJECT_DIR = Path(__file__).resolve().parent.parent
USERNAME = "bench-login"
PASSWORD = "bench-login-password"
# The admin's login rate limit would answer 429 after 20 attempts, unhashed.
NO_RATE_LIMIT = {"BOOKSTORE_ADMIN_LOGIN_ATTEMPTS": "100000000"}
# The status counted for a sign-in that got no answer (timeout, connection lost).
NO_ANSWER = 0


def create_bench_admin(project_dir: Path, dsn: str) -> None:
    """The admin the logins sign in as; an existing one is fine."""
    subprocess.run(
        [
            *(sys.executable, "-m", "bookstore.cli", "createadmin"),
            *("--username", USERNAME, "--password", PASSWORD),
        ],
        cwd=project_dir,
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        check=False,
    )


class LoginDriver:
    """Signs in ``per_second`` times a second, in a thread of its own, until stopped."""

    def __init__(self, base_url: str, per_second: int) -> None:
        self.base_url = base_url
        self.interval_s = 1 / per_second
        self.answers: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> LoginDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            await http.get("/admin/")
            headers = {"X-CSRFToken": http.cookies["csrftoken"]}
            pending: set[asyncio.Task[None]] = set()
            number = 0
            next_at = time.monotonic()
            while not self._stop.is_set():
                password = PASSWORD if number % 2 == 0 else "wrong-password"
                task = asyncio.create_task(self._login(http, headers, password))
                pending.add(task)
                task.add_done_callback(pending.discard)
                number += 1
                next_at += self.interval_s
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
            await asyncio.gather(*pending)

    async def _login(
        self, http: httpx.AsyncClient, headers: dict[str, str], password: str
    ) -> None:
        try:
            response = await http.post(
                "/admin/public/login/",
                json={"username": USERNAME, "password": password},
                headers=headers,
            )
        except httpx.HTTPError:
            # A sign-in that timed out or lost its connection is a result of
            # the run (counted as status 0, "no answer"), not a crash of it.
            status = NO_ANSWER
        else:
            status = response.status_code
        self.answers[status] = self.answers.get(status, 0) + 1


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=100_000)
    parser.add_argument("--logins", type=int, default=20, help="sign-ins per second")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="runs without and with logins")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument(
        "--dsn", help="a migrated, seeded database to use as it is (default: bookstore_bench)"
    )
    args = parser.parse_args(argv)
    require_wrk()

    dsn = args.dsn or prepare_bench_database(args.project_dir, books=args.books, reseed=False)
    create_bench_admin(args.project_dir, dsn)
    paths = scenario_paths(Scenario.AUTHOR, asyncio.run(sample_terms(dsn)))
    spec = product_spec(args.project_dir, free_port(), extra_env=NO_RATE_LIMIT)
    p99: dict[str, list[float]] = {"without logins": [], "with logins": []}
    answers: dict[int, int] = {}
    log_dir = Path(tempfile.mkdtemp(prefix="bookstore-admin-logins-"))
    with running_server(spec, dsn, log_dir) as server:
        run_wrk(server.base_url, paths, threads=2, connections=4, duration_s=2)  # warm-up
        for _ in range(args.rounds):
            quiet = run_wrk(
                server.base_url, paths, threads=2, connections=args.connections,
                duration_s=args.duration,
            )  # fmt: skip
            p99["without logins"].append(quiet.p99_ms)
            with LoginDriver(server.base_url, args.logins) as driver:
                busy = run_wrk(
                    server.base_url, paths, threads=2, connections=args.connections,
                    duration_s=args.duration,
                )  # fmt: skip
            p99["with logins"].append(busy.p99_ms)
            for status, count in driver.answers.items():
                answers[status] = answers.get(status, 0) + count
    without, with_logins = (statistics.median(values) for values in p99.values())
    print(
        f"author searches, {args.connections} connections, {args.rounds} rounds of "
        f"{args.duration} s; logins: {args.logins}/s, answered {dict(sorted(answers.items()))}"
    )
    for name, values in p99.items():
        print(f"  p99 {name}: median {statistics.median(values):.1f} ms, runs {values}")
    print(f"  ratio with/without: {with_logins / without:.2f} (target: at most 1.20)")


if __name__ == "__main__":
    main()
