"""A real server in a subprocess, for tests about processes, signals and faults."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

TESTS_DIR = str(Path(__file__).resolve().parent)


def bookstore(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the ``bookstore`` command as a user would; DATABASE_URL is inherited.

    ``timeout``: seconds before ``subprocess.TimeoutExpired``, for a command
    that must stop by itself (``serve`` refusing a database) but could serve on.
    """
    return subprocess.run(
        [sys.executable, "-m", "bookstore.cli", *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout_s: float = 30) -> str:
        """SIGTERM, as a process manager would; return what the server printed."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout_s)
        return self.output()


@contextmanager
def running_server(
    env: dict[str, str] | None = None,
    timeout_s: float = 60,
    args: Sequence[str] = (),
    factory: str = "bookstore.app:create_app",
) -> Iterator[Server]:
    """uvicorn serving ``factory`` on a free port, with ``env`` and uvicorn's ``args`` added.

    ``factory`` may name a module of tests/ (``worker_pid:create_app``).
    Its output goes to a file, not a pipe: a pipe nobody reads fills up, and
    the server, blocked writing its log, would stop answering.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *args]
    env = {**(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(
        path for path in (TESTS_DIR, env.get("PYTHONPATH", os.environ.get("PYTHONPATH"))) if path
    )
    with tempfile.TemporaryDirectory(prefix="bookstore-server-") as directory:
        log = Path(directory) / "server.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                command,
                env={**os.environ, **env},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited:\n{server.output()}")
                try:
                    if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("the server did not answer /health")
                time.sleep(0.1)
            yield server
        finally:
            if process.poll() is None:
                # SIGTERM first: uvicorn with --workers stops its workers then;
                # killed, it would leave them serving.
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


async def wait_until_blocked_on_a_lock(observer: asyncpg.Connection) -> None:
    """Return once some statement of this database waits on a lock."""
    for _ in range(1000):
        waiting = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no statement ever waited on the lock")


class DemoConsole:
    """``bookstore serve --demo`` in a subprocess, its stdout read line by line.

    What the command prints once (a password, a token) is read from its
    console, so stdout is a pipe, drained by a thread; stderr goes to a file.
    """

    def __init__(self, database: str, port: int, log: Path, timeout_s: float = 120) -> None:
        env = {**os.environ, "DATABASE_URL": database, "PYTHONUNBUFFERED": "1"}
        self.url = f"http://127.0.0.1:{port}"
        self.timeout_s = timeout_s
        self._log = log.open("w")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "bookstore.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.server.stdout is not None
        for line in self.server.stdout:
            self.lines.put(line)
        self.lines.put(None)  # the server exited

    def read_until(self, marker: str) -> str:
        """The output up to the first line containing ``marker``."""
        seen: list[str] = []
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if marker in line:
                return "".join(seen)
        raise AssertionError(f"no line with {marker!r} in:\n{''.join(seen)}")

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self._log.close()


@contextmanager
def serving_demo(database: str, log: Path) -> Iterator[DemoConsole]:
    """``bookstore serve --demo`` on ``database`` and a free port, stopped on exit."""
    console = DemoConsole(database, free_port(), log)
    try:
        yield console
    finally:
        console.stop()


async def wait_until_listening(http: httpx.AsyncClient, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            await http.get("/health")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"nothing listens on {http.base_url}")
