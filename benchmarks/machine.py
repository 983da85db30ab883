"""Facts about the machine a run was measured on, stored with its figures.

Requests per second mean little without the hardware and versions they
were measured with; two result files are comparable only if these match.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path


def _first_line_value(path: str, key: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _command_output(*command: str, cwd: Path | None = None) -> str | None:
    try:
        completed = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (completed.stdout or completed.stderr).strip()
    return text.splitlines()[0] if text else None


def memory_gib() -> float | None:
    total = _first_line_value("/proc/meminfo", "MemTotal")  # "24683656 kB"
    return round(int(total.split()[0]) / 1024**2, 1) if total else None


def _fixed_python_work() -> int:
    total = 0
    for number in range(200_000):
        total += len(str(number)) + number % 7
    return total


def python_speed_ms() -> float:
    """Milliseconds for a fixed piece of pure-Python work, the best of five.

    This machine's speed changes from one day to the next by 2x and more (steal
    time on a shared host): a worker that served 2,368 category pages a second on
    one day served about 300 on another, same code. Two runs' absolute figures
    compare only when this yardstick, taken beside them, is about the same.
    """
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        _fixed_python_work()
        timings.append((time.perf_counter() - started) * 1000)
    return round(min(timings), 1)


def machine_facts(project_dir: Path, *, postgresql: str, books: int) -> dict[str, object]:
    """nproc, CPU model, memory, versions, load, and the code measured (git)."""
    commit = _command_output("git", "rev-parse", "--short", "HEAD", cwd=project_dir)
    changed = _command_output(
        "git", "status", "--porcelain", "--untracked-files=no", cwd=project_dir
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _first_line_value("/proc/cpuinfo", "model name"),
        "memory_gib": memory_gib(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python_speed_ms": python_speed_ms(),
        "postgresql": postgresql,
        "python": platform.python_version(),
        "wrk": _command_output("wrk", "-v"),
        "kernel": platform.release(),
        "git_commit": f"{commit}{'+uncommitted changes' if changed else ''}" if commit else None,
        "books": books,
    }
