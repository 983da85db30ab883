"""Starting and stopping the HTTP servers under test, on 127.0.0.1 only.

Every server is a subprocess on a free port, started with the benchmark
database as ``DATABASE_URL`` and waited for until /health answers 200. Use
``running_server`` in a ``with`` block (or an ``ExitStack``): the process is
stopped with SIGTERM on the way out whatever happened, and killed if it does
not stop in time, so no server outlives a run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.scenarios import FLOOR_SCENARIOS, REFERENCE_SCENARIOS, Scenario

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: command, working directory, extra environment.

    ``extra_env`` is how a variant of the product is measured, e.g. the
    product with search logging turned off.
    """

    name: str
    command: list[str]
    cwd: Path
    port: int
    serves: frozenset[Scenario]
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Server:
    """A started server: its name, base URL and what it serves."""

    name: str
    base_url: str
    serves: frozenset[Scenario]


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def product_spec(
    project_dir: Path,
    port: int,
    *,
    name: str = "product",
    extra_env: Mapping[str, str] | None = None,
    serves: frozenset[Scenario] = frozenset(Scenario),
) -> ServerSpec:
    """The service as deployed: ``bookstore serve``, one worker.

    ``project_dir`` may be another checkout (``--baseline``): its own
    virtualenv's interpreter runs it when it has one.
    """
    own = project_dir / ".venv" / "bin" / "python"
    command = [
        str(own) if own.exists() else sys.executable, "-m", "bookstore.cli", "serve",
        "--host", HOST, "--port", str(port), "--workers", "1", "--log-level", "warning",
    ]  # fmt: skip
    return ServerSpec(name, command, project_dir, port, serves, dict(extra_env or {}))


def reference_spec(reference_dir: Path, module: str, port: int) -> ServerSpec:
    """A reference app of ../shared/bench/anchors, under uvicorn."""
    command = [
        sys.executable, "-m", "uvicorn", f"{module}:app",
        "--host", HOST, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    # The reference directory is read-only: no __pycache__ there.
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    name = module.removesuffix("_app")
    serves = FLOOR_SCENARIOS if name == "floor" else REFERENCE_SCENARIOS
    return ServerSpec(name, command, reference_dir, port, serves, env)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(spec: ServerSpec, database_url: str, log_dir: Path) -> Iterator[Server]:
    """Start ``spec`` against ``database_url``, wait for /health, stop it on exit.

    Its output goes to ``log_dir/<name>.log``, kept: that is where a run's
    errors are explained.
    """
    base_url = f"http://{HOST}:{spec.port}"
    env = {**os.environ, **spec.extra_env, "DATABASE_URL": database_url}
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{re.sub(r'[^a-z0-9]+', '-', spec.name.lower())}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.command, cwd=spec.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _answers(f"{base_url}/health"):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{spec.name} exited with {process.returncode}:\n{_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{spec.name} did not answer /health within {STARTUP_TIMEOUT_S:.0f} s:\n"
                        f"{_tail(log_path)}"
                    )
                time.sleep(0.2)
            yield Server(spec.name, base_url, spec.serves)
        finally:
            _stop(process)
