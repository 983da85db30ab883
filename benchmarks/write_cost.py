"""The write cost of one book: ``POST /books`` (then ``DELETE``) through a running server.

The search index is kept by triggers in the writing transaction, so what a
book costs to write is mostly what indexing it costs. This posts ``--books``
books one at a time (a title of four words and a description of twelve,
drawn from the catalog's own vocabulary, an existing author, two
categories: the same bodies for the same ``--seed``), then deletes them,
and prints the p50 and p90 of each, and the PostgreSQL CPU time the
server's backends spent (``/proc/<pid>/schedstat``, so the server must run
on this machine) per book: wall-clock times vary with the machine's load,
CPU time much less.

    bookstore serve --port 8011 &   # DATABASE_URL = the catalog
    BOOKSTORE_TOKEN=... python -m benchmarks.write_cost \\
        --url http://127.0.0.1:8011 --dsn postgresql://.../catalog --books 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time

import asyncpg
import httpx


async def _backend_cpu_ns(admin: asyncpg.Connection, database: str) -> int:
    """CPU time so far of every backend connected to ``database`` but ``admin``'s own."""
    pids = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return sum(_cpu_ns(row["pid"]) for row in pids)


def _cpu_ns(pid: int) -> int:
    """A process's CPU time so far (0 once it has gone): a read of /proc, no waiting."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0])
    except FileNotFoundError:
        return 0


async def _bodies(admin: asyncpg.Connection, books: int, seed: int) -> list[dict]:
    words = [
        r["word"]
        for r in await admin.fetch(
            "SELECT word FROM search_words WHERE books BETWEEN 100 AND 50000"
            " AND word ~ '^[a-z]{4,}$' ORDER BY word"
        )
    ]
    authors = await admin.fetchval("SELECT max(id) FROM authors")
    categories = [r["id"] for r in await admin.fetch("SELECT id FROM categories ORDER BY id")]
    rng = random.Random(seed)
    return [
        {
            "title": " ".join(rng.choice(words) for _ in range(4)).title(),
            "description": " ".join(rng.choice(words) for _ in range(12)),
            "author_id": rng.randint(1, authors),
            "category_ids": rng.sample(categories, 2),
        }
        for _ in range(books)
    ]


def _quantiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
    }


async def measure(url: str, dsn: str, books: int, seed: int, token: str) -> dict:
    admin = await asyncpg.connect(dsn)
    try:
        database = await admin.fetchval("SELECT current_database()")
        bodies = await _bodies(admin, books, seed)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            # One write first: the server's pool and plans are warm.
            warm = await client.post("/books", json=bodies[0])
            warm.raise_for_status()
            await client.delete(f"/books/{warm.json()['id']}")
            posted: list[int] = []
            post_s: list[float] = []
            cpu = await _backend_cpu_ns(admin, database)
            for body in bodies:
                start = time.perf_counter()
                response = await client.post("/books", json=body)
                post_s.append(time.perf_counter() - start)
                response.raise_for_status()
                posted.append(response.json()["id"])
            post_cpu = await _backend_cpu_ns(admin, database) - cpu
            delete_s: list[float] = []
            cpu = await _backend_cpu_ns(admin, database)
            for book_id in posted:
                start = time.perf_counter()
                response = await client.delete(f"/books/{book_id}")
                delete_s.append(time.perf_counter() - start)
                response.raise_for_status()
            delete_cpu = await _backend_cpu_ns(admin, database) - cpu
    finally:
        await admin.close()
    return {
        "books": books,
        "post": {**_quantiles(post_s), "pg_cpu_ms_per_book": round(post_cpu / books / 1e6, 2)},
        "delete": {
            **_quantiles(delete_s),
            "pg_cpu_ms_per_book": round(delete_cpu / books / 1e6, 2),
        },
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the running server's base URL")
    parser.add_argument("--dsn", required=True, help="its database (to read backends' CPU)")
    parser.add_argument("--books", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(
        measure(args.url, args.dsn, args.books, args.seed, os.environ["BOOKSTORE_TOKEN"])
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
