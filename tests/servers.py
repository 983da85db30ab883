"""A real server in a subprocess, for tests about processes, signals and faults."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx


def bookstore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``bookstore`` command as a user would; DATABASE_URL is inherited."""
    return subprocess.run(
        [sys.executable, "-m", "bookstore.cli", *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
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
def running_server(env: dict[str, str] | None = None, timeout_s: float = 30) -> Iterator[Server]:
    """uvicorn serving ``create_app`` on a free port, with ``env`` added.

    Its output goes to a file, not a pipe: a pipe nobody reads fills up, and
    the server, blocked writing its log, would stop answering.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "bookstore.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with tempfile.TemporaryDirectory(prefix="bookstore-server-") as directory:
        log = Path(directory) / "server.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                command,
                env={**os.environ, **(env or {})},
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
