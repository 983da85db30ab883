"""The CPU time of processes on this machine: the figure to compare on a shared machine.

Wall-clock times and requests per second move 20-30% with what the other
sessions run; the CPU time a process spent moves much less. The benchmarks
that divide CPU time by requests or books (``capacity``, ``cpu_per_request``,
``import_batch``, ``write_cost``) read it here, from /proc, so the processes
must run on this machine. The processes to read are a database's backends
(``backend_pids``) and the server a benchmark started (``listening_pids``)::

    before = {pid: cpu_seconds(pid) for pid in await backend_pids(dsn, "bench_1m")}
    [worker] = listening_pids(port)
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far; 0 once it has exited.

    ``/proc/<pid>/schedstat`` counts it in nanoseconds; ``/proc/<pid>/stat``'s
    utime and stime count clock ticks of 10 ms, too coarse for one backend's
    share of a short run.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


async def backend_pids(
    dsn: str, database: str, *, application_name: str | None = None
) -> list[int]:
    """The PostgreSQL backends connected to ``database``, but the one asking.

    ``application_name`` keeps only a service's own pools' backends (the
    service's pools say ``bookstore``), not a psql left open on the database.
    """
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
            " AND ($2::text IS NULL OR application_name = $2)",
            database,
            application_name,
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


def listening_pids(port: int) -> list[int]:
    """The process listening on ``port`` (uvicorn with one worker: the server itself)."""
    wanted = f":{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[1].endswith(wanted) and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            pids.append(int(entry.name))
    return pids
