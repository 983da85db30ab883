"""``python -m benchmarks.cache_memory``: does the response cache stay within BOOKSTORE_CACHE_MB?

Serves the benchmark database with one worker and a small cache, reads the
worker's RSS once it has answered a few hundred distinct listings (its
baseline, warm), then asks for far more distinct listings than the cache
holds (every category at several page sizes: bodies of 1 to 40 KB) and
reads the RSS again. The growth should stay below the cache's bound::

    python -m benchmarks.cache_memory --database bench_scale --cache-mb 8
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx

from benchmarks.database import server_dsn, with_database
from benchmarks.servers import free_port, product_spec, running_server

PROJECT_DIR = Path(__file__).resolve().parent.parent
PAGE_SIZES = (1, 5, 10, 20, 50, 100)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def category_slugs(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return [row["slug"] for row in await connection.fetch("SELECT slug FROM categories")]
    finally:
        await connection.close()


async def ask(base_url: str, paths: Sequence[str]) -> int:
    """GET every path, 8 at a time; the bytes of the 200 answers."""
    total = 0
    semaphore = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def one(path: str) -> None:
            nonlocal total
            async with semaphore:
                response = await http.get(path)
                if response.status_code == 200:
                    total += len(response.content)

        await asyncio.gather(*(one(path) for path in paths))
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache_memory", description=__doc__)
    parser.add_argument("--database", default="bookstore_bench")
    parser.add_argument("--cache-mb", type=float, default=8)
    args = parser.parse_args(argv)
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    slugs = asyncio.run(category_slugs(dsn))
    warm = [f"/books?category={slug}&limit=1" for slug in slugs[:300]]
    flood = [f"/books?category={slug}&limit={size}" for size in PAGE_SIZES for slug in slugs]
    spec = product_spec(
        PROJECT_DIR, free_port(), extra_env={"BOOKSTORE_CACHE_MB": str(args.cache_mb)}
    )
    with running_server(spec, dsn, PROJECT_DIR / "benchmarks" / "results" / "cache-memory") as s:
        from benchmarks.capacity import _server_pids

        [worker] = _server_pids(spec.port)
        asyncio.run(ask(s.base_url, warm))
        baseline = rss_mb(worker)
        offered = asyncio.run(ask(s.base_url, flood))
        # Twice: the second pass evicts and refills, as a long-running process does.
        offered += asyncio.run(ask(s.base_url, flood))
        after = rss_mb(worker)
    print(
        f"cache {args.cache_mb} MB: baseline RSS {baseline:.1f} MB, after {after:.1f} MB "
        f"(+{after - baseline:.1f} MB) having answered {len(flood) * 2:,} distinct-page requests "
        f"of {offered / 2**20:.1f} MB in all"
    )


if __name__ == "__main__":
    main()
