"""``python -m benchmarks.write_cost``: what one book costs, ``POST /books`` then ``DELETE``.

The search index is kept by triggers in the writing transaction, so what a
book costs to write is mostly what indexing it costs. This serves
``--database`` (on ``DATABASE_URL``'s server, else the embedded one) with
one worker, as ``benchmarks.run`` serves it, under an API token of its own;
posts ``--books`` books one at a time (a title of four words and a
description of twelve, drawn from the catalog's own vocabulary, an existing
author, two categories: the same bodies for the same ``--seed``), then
deletes them, and prints the p50 and p90 of each, and the PostgreSQL CPU
time the database's backends spent per book (``benchmarks.processes``):
wall-clock times vary with the machine's load, CPU time much less. The
books and the token are removed whatever happens; the database must have
no other clients while it runs::

    python -m benchmarks.write_cost --database bench_copy --books 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from benchmarks.database import (
    COMMAND_TIMEOUT_S,
    _bookstore,
    database_name,
    server_dsn,
    with_database,
)
from benchmarks.percentiles import percentile
from benchmarks.processes import backend_pids, cpu_seconds
from benchmarks.servers import free_port, product_spec, running_server

PROJECT_DIR = Path(__file__).resolve().parent.parent
TOKEN_NAME = "bench-write-cost"
Item = TypeVar("Item")


async def _execute(dsn: str, sql: str, *arguments: Any) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql, *arguments)
    finally:
        await connection.close()


def _create_token(dsn: str) -> str:
    """A write token named ``TOKEN_NAME`` (one an interrupted run left is replaced)."""
    asyncio.run(_execute(dsn, "DELETE FROM api_tokens WHERE name = $1", TOKEN_NAME))
    env = {**os.environ, "DATABASE_URL": dsn}
    return _bookstore(
        PROJECT_DIR, "token", "create", TOKEN_NAME, env=env, timeout=COMMAND_TIMEOUT_S
    )


async def _bodies(dsn: str, books: int, seed: int) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        words = [
            r["word"]
            for r in await connection.fetch(
                "SELECT word FROM search_words WHERE books BETWEEN 100 AND 50000"
                " AND word ~ '^[a-z]{4,}$' ORDER BY word"
            )
        ]
        authors = await connection.fetchval("SELECT max(id) FROM authors")
        categories = [
            r["id"] for r in await connection.fetch("SELECT id FROM categories ORDER BY id")
        ]
    finally:
        await connection.close()
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


async def _backends_cpu(dsn: str, database: str) -> dict[int, float]:
    """Each backend connected to ``database``: its CPU seconds so far."""
    return {pid: cpu_seconds(pid) for pid in await backend_pids(dsn, database)}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """The CPU seconds the backends spent between two readings.

    A backend opened in between counts from 0 (all its time falls in
    between); one closed in between is left out of both readings, and said.
    """
    gone = before.keys() - after.keys()
    if gone:
        print(
            f"note: {len(gone)} backend(s) closed during the run: their CPU is lost",
            file=sys.stderr,
        )
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def _timed(
    send: Callable[[Item], Awaitable[httpx.Response]],
    items: Sequence[Item],
    dsn: str,
    database: str,
) -> dict[str, float]:
    """Send one request per item, one at a time: p50, p90, and the backends' CPU per item."""
    seconds: list[float] = []
    before = await _backends_cpu(dsn, database)
    for item in items:
        start = time.perf_counter()
        response = await send(item)
        seconds.append(time.perf_counter() - start)
        response.raise_for_status()
    cpu = _spent(before, await _backends_cpu(dsn, database))
    ordered = sorted(seconds)
    return {
        "p50_ms": round(percentile(ordered, 0.5) * 1000, 1),
        "p90_ms": round(percentile(ordered, 0.9) * 1000, 1),
        "pg_cpu_ms_per_book": round(cpu * 1000 / len(items), 2),
    }


async def measure(url: str, dsn: str, books: int, seed: int, token: str) -> dict[str, Any]:
    """Post ``books`` books, then delete them; the books still posted are deleted on failure."""
    database = database_name(dsn)
    bodies = await _bodies(dsn, books, seed)
    posted: set[int] = set()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

            async def post(body: dict[str, Any]) -> httpx.Response:
                response = await client.post("/books", json=body)
                if response.is_success:
                    posted.add(response.json()["id"])
                return response

            async def delete(book_id: int) -> httpx.Response:
                response = await client.delete(f"/books/{book_id}")
                if response.is_success:
                    posted.discard(book_id)
                return response

            # One write first: the server's pool and plans are warm.
            warm = await post(bodies[0])
            warm.raise_for_status()
            (await delete(warm.json()["id"])).raise_for_status()
            post_cost = await _timed(post, bodies, dsn, database)
            delete_cost = await _timed(delete, sorted(posted), dsn, database)
    finally:
        if posted:
            print(f"deleting the {len(posted)} book(s) the run left", file=sys.stderr)
            await _execute(dsn, "DELETE FROM books WHERE id = ANY($1::integer[])", sorted(posted))
    return {
        "books": books,
        "post": post_cost,
        "delete": delete_cost,
        "loadavg": os.getloadavg()[0],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.write_cost", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--database", required=True, help="a catalog on the server in use")
    parser.add_argument("--books", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    log_dir = PROJECT_DIR / "benchmarks" / "results" / "write-cost"
    token = _create_token(dsn)
    try:
        with running_server(product_spec(PROJECT_DIR, free_port()), dsn, log_dir) as server:
            result = asyncio.run(measure(server.base_url, dsn, args.books, args.seed, token))
    finally:
        asyncio.run(_execute(dsn, "DELETE FROM api_tokens WHERE name = $1", TOKEN_NAME))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
