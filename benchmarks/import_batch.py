"""``python -m benchmarks.import_batch``: what one import batch of new books costs PostgreSQL.

An import batch of new books writes the books, then their category links,
and queues them for the search box; a second connection indexes the queue
with ``search_index_queued(n)``, one ``search_index_books(ids)`` call over
the books queued since its last pass (``bookstore.catalog.imports``). This
times the books, the links and that call (triggers deferred, one
transaction: ``--books`` is the size of a pass), for ``--books`` new
books copied from the catalog's first ones (titles given a suffix, no ISBN,
the same categories), then rolls back: the catalog is left as it was.

Each step is measured as wall time and as the server process's CPU time
(from /proc by ``benchmarks.processes``, so the server must run on this
machine): on a shared machine the wall time swings 2-3x with the other
sessions' load, the CPU time much less, so two versions of a statement
compare by CPU. Runs ``--runs`` times (``VACUUM search_words`` before each,
as autovacuum would between batches) and prints the medians.

    python -m benchmarks.import_batch --database bench_copy --books 1000 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from benchmarks.database import server_dsn, with_database
from benchmarks.processes import cpu_seconds

PROJECT_DIR = Path(__file__).resolve().parent.parent

# As bookstore.catalog.imports writes a batch: books, links, then the index.
STEPS = {
    "books": """
        INSERT INTO books (id, title, author_id, isbn, published_year, price, description)
        SELECT n.id, b.title || ' (Import Edition)', b.author_id, NULL, b.published_year,
               b.price, b.description
        FROM new_ids n JOIN books b ON b.id = n.source_id
    """,
    "links": """
        INSERT INTO book_category (book_id, category_id)
        SELECT n.id, bc.category_id
        FROM new_ids n JOIN book_category bc ON bc.book_id = n.source_id
    """,
    "search index": "SELECT search_index_books(ARRAY(SELECT id FROM new_ids ORDER BY id))",
}


async def _write_batch(
    connection: asyncpg.Connection, pid: int, books: int, first_id: int
) -> dict[str, tuple[float, float]]:
    """(CPU ms, wall ms) of each step for ``books`` new books, rolled back."""
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute("SELECT set_config('bookstore.search_index_deferred', 'on', true)")
    await connection.execute(
        "CREATE TEMPORARY TABLE new_ids ON COMMIT DROP AS"
        " SELECT nextval(pg_get_serial_sequence('books', 'id'))::integer AS id,"
        " b.id AS source_id FROM books b WHERE b.id >= $1 ORDER BY b.id LIMIT $2",
        first_id,
        books,
    )
    costs = {}
    for name, statement in STEPS.items():
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        await connection.execute(statement)
        costs[name] = (
            (cpu_seconds(pid) - cpu_before) * 1000,
            (time.perf_counter() - started) * 1000,
        )
    await transaction.rollback()
    return costs


async def one_batch(dsn: str, books: int, first_id: int) -> dict[str, tuple[float, float]]:
    """(CPU ms, wall ms) of each step for ``books`` new books, on a warm connection.

    A new backend's first statements load its catalog caches and compile
    the functions (about 100 ms of CPU for the books' and the links' first
    INSERT): the import's pooled connections paid that once, so a batch of
    ten goes first, uncounted.
    """
    connection = await asyncpg.connect(dsn)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        await _write_batch(connection, pid, 10, first_id)
        await connection.execute("VACUUM search_words")
        return await _write_batch(connection, pid, books, first_id)
    finally:
        await connection.close()


async def measure(dsn: str, books: int, runs: int) -> None:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STEPS}
    for run in range(runs):
        for name, cost in (await one_batch(dsn, books, 1 + run * books)).items():
            samples[name].append(cost)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{books:,} new books a batch, median of {runs} runs, load average {load}:")
    for name, costs in samples.items():
        cpu = statistics.median(c for c, _ in costs)
        wall = statistics.median(w for _, w in costs)
        print(f"  {name:<13} CPU {cpu:6.0f} ms   wall {wall:6.0f} ms")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a catalog (left unchanged)")
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    asyncio.run(measure(dsn, args.books, args.runs))


if __name__ == "__main__":
    main(sys.argv[1:])
