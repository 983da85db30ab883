"""``python -m benchmarks.transfers``: export a big catalog over HTTP, import a big file.

Measures what issue 11 asks of import and export (docs/operations.md):

- ``GET /books/export.csv`` and ``.jsonl`` of the whole catalog (1,000,000
  books by default): time, size, and how much the server's resident memory
  grows while it streams (sampled from /proc every 20 ms; target < 50 MB,
  < 60 s).
- ``bookstore import`` of the first ``--import-rows`` rows of that export
  (100,000 by default) into an empty database: all created, then the same
  file again (all unchanged), then a dry run (target < 60 s each).
- With ``--import-into DATABASE`` (a copy of a big catalog, which it
  writes to: never the shared base), the import into that catalog instead:
  the first rows of its own export (all unchanged, matched among its
  books), then the same rows as new books (titles given a suffix, no ISBN:
  all created), that file again (all unchanged), and a dry run.

The catalog lives in a database of its own (``--database``, default
``bookstore_imports_bench``) on the server in use (``DATABASE_URL``, else the
embedded one), seeded once with ``bookstore seed`` and reused; the import
goes to ``<database>_import``, dropped and created anew each run. Run it
under ``flock -x /work/bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from benchmarks.database import (
    COMMAND_TIMEOUT_S,
    SEED_TIMEOUT_S,
    _bookstore,
    _create_database_if_missing,
    count_books,
    postgres_version,
    server_dsn,
    with_database,
)
from benchmarks.servers import HOST, free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakMemory:
    """The highest resident size of a process while the block runs, sampled."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self.pid = pid
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, resident_bytes(self.pid))
            time.sleep(self.every_s)

    def __enter__(self) -> PeakMemory:
        self.peak = resident_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def prepare_catalog(database: str, books: int) -> str:
    server = server_dsn(PROJECT_DIR)
    dsn = with_database(server, database)
    asyncio.run(_create_database_if_missing(server, database))
    env = {**os.environ, "DATABASE_URL": dsn}
    _bookstore(PROJECT_DIR, "migrate", env=env, timeout=COMMAND_TIMEOUT_S)
    if count_books(dsn) != books:
        print(f"Seeding {database} with {books:,} books...", flush=True)
        print(
            _bookstore(
                PROJECT_DIR,
                *("seed", "--books", str(books), "--replace"),
                env=env,
                timeout=SEED_TIMEOUT_S,
            ),
            flush=True,
        )
    return dsn


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /health in 90 s")


def stream(url: str, target: Path | None) -> tuple[int, int, float]:
    """GET ``url`` to the end, in 64 KiB reads; (bytes, lines, seconds)."""
    started = time.perf_counter()
    size = lines = 0
    sink = open(target, "wb") if target else None  # noqa: SIM115
    try:
        with urllib.request.urlopen(url, timeout=300) as response:
            while chunk := response.read(65536):
                size += len(chunk)
                lines += chunk.count(b"\n")
                if sink:
                    sink.write(chunk)
    finally:
        if sink:
            sink.close()
    return size, lines, time.perf_counter() - started


def measure_exports(dsn: str, workdir: Path) -> Path:
    """Both exports of the whole catalog; returns the CSV file."""
    port = free_port()
    command = [
        sys.executable, "-m", "bookstore.cli", "serve",
        "--host", HOST, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": dsn, "BOOKSTORE_SEARCH_LOG": "off"}
    base_url = f"http://{HOST}:{port}"
    csv_file = workdir / "books.csv"
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_health(base_url, process)
        stream(f"{base_url}/books/export.csv?author=a", None)  # warm the code paths
        for suffix in ("csv", "jsonl"):
            before = resident_bytes(process.pid)
            with PeakMemory(process.pid) as peak:
                size, lines, seconds = stream(
                    f"{base_url}/books/export.{suffix}", csv_file if suffix == "csv" else None
                )
            growth = (peak.peak - before) / 2**20
            print(
                f"export.{suffix}: {lines:,} lines, {size / 1e6:,.0f} MB in {seconds:.1f} s; "
                f"server RSS {before / 2**20:.0f} MiB before, peak +{growth:.1f} MiB",
                flush=True,
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    return csv_file


def first_rows(source: Path, target: Path, rows: int) -> None:
    with open(source, newline="") as reader_file, open(target, "w", newline="") as writer_file:
        reader = csv.reader(reader_file)
        writer = csv.writer(writer_file, lineterminator="\n")
        writer.writerow(next(reader))
        for count, row in enumerate(reader):
            if count >= rows:
                break
            writer.writerow(row)


async def _recreate(server: str, database: str) -> None:
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


# What --without-search-index removes from the import's database, to tell the
# import's own time from the index's upkeep (issue 9): every trigger that
# indexes a book (their names begin with search_), and the indexing of the
# queue an import's batches fill (migration 2026-11-29T10:00), which then
# only empties it. Read from the catalog, so that renamed triggers are found.
_SEARCH_TRIGGERS = """
SELECT t.tgname, t.tgrelid::regclass::text AS relation
FROM pg_trigger t
WHERE NOT t.tgisinternal AND t.tgname LIKE 'search\\_%'
"""
_QUEUE_EMPTIED_UNINDEXED = """
CREATE OR REPLACE FUNCTION search_index_queued(max_books integer) RETURNS integer
LANGUAGE sql AS $$
    WITH taken AS (DELETE FROM search_index_queue RETURNING 1) SELECT count(*)::integer FROM taken
$$
"""


async def _remove_search_indexing(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for trigger in await connection.fetch(_SEARCH_TRIGGERS):
            await connection.execute(
                f'DROP TRIGGER "{trigger["tgname"]}" ON {trigger["relation"]}'
            )
        await connection.execute(_QUEUE_EMPTIED_UNINDEXED)
    finally:
        await connection.close()


def measure_import(database: str, source: Path, *, search_index: bool = True) -> None:
    server = server_dsn(PROJECT_DIR)
    asyncio.run(_recreate(server, database))
    env = {**os.environ, "DATABASE_URL": with_database(server, database)}
    _bookstore(PROJECT_DIR, "migrate", env=env, timeout=COMMAND_TIMEOUT_S)
    if not search_index:
        asyncio.run(_remove_search_indexing(env["DATABASE_URL"]))
        print("(search indexing removed from the import database)", flush=True)
    for label, extra in (("first", []), ("again", []), ("dry run", ["--dry-run"])):
        _import(env, source, label, *extra)


def new_editions(source: Path, target: Path) -> None:
    """``source``'s rows as books the catalog lacks: another title, no ISBN."""
    with open(source, newline="") as reader_file, open(target, "w", newline="") as writer_file:
        reader = csv.DictReader(reader_file)
        writer = csv.DictWriter(
            writer_file, fieldnames=reader.fieldnames or [], lineterminator="\n"
        )
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, "title": f"{row['title']} (Import Edition)", "isbn": ""})


def _import(env: dict[str, str], source: Path, label: str, *extra: str) -> None:
    started = time.perf_counter()
    output = _bookstore(
        PROJECT_DIR, "import", str(source), *extra, env=env, timeout=SEED_TIMEOUT_S
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{datetime.now(UTC):%H:%M:%S} UTC, load {load}: import ({label}): "
        f"{time.perf_counter() - started:.1f} s: {output}",
        flush=True,
    )


def measure_import_into(database: str, source: Path, workdir: Path) -> None:
    """Import into an existing (copied) catalog: its own rows, then new ones."""
    env = {**os.environ, "DATABASE_URL": with_database(server_dsn(PROJECT_DIR), database)}
    print(f"importing into {database}: {count_books(env['DATABASE_URL']):,} books", flush=True)
    _import(env, source, "its own rows, unchanged")
    created = workdir / "new-editions.csv"
    new_editions(source, created)
    _import(env, created, "new books")
    _import(env, created, "the new books again")
    _import(env, created, "dry run", "--dry-run")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1_000_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--database", default="bookstore_imports_bench")
    parser.add_argument("--skip-export", action="store_true", help="measure the import only")
    parser.add_argument("--skip-import", action="store_true", help="measure the exports only")
    parser.add_argument(
        "--without-search-index",
        action="store_true",
        help="import into a database without the text search indexing, for comparison",
    )
    parser.add_argument(
        "--import-into",
        metavar="DATABASE",
        help="import into this existing catalog (a copy: it is written to), not an empty one",
    )
    args = parser.parse_args(argv)
    if args.database == "bookstore_bench":
        raise SystemExit("bookstore_bench belongs to benchmarks.run; name another database")
    if args.import_into in {"bookstore_bench", "bookstore_bench_base"}:
        raise SystemExit("--import-into writes to its database: name a copy of its own")

    dsn = prepare_catalog(args.database, args.books)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL {postgres_version(dsn)}, "
        f"{args.books:,} books, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bookstore-transfers-") as directory:
        workdir = Path(directory)
        if args.skip_export:
            csv_file = workdir / "books.csv"
            _bookstore(
                PROJECT_DIR,
                *("export", str(csv_file)),
                env={**os.environ, "DATABASE_URL": dsn},
                timeout=SEED_TIMEOUT_S,
            )
        else:
            csv_file = measure_exports(dsn, workdir)
        if not args.skip_import:
            sample = workdir / f"first-{args.import_rows}.csv"
            first_rows(csv_file, sample, args.import_rows)
            if args.import_into:
                measure_import_into(args.import_into, sample, workdir)
            else:
                measure_import(
                    f"{args.database}_import", sample, search_index=not args.without_search_index
                )


if __name__ == "__main__":
    main(sys.argv[1:])
