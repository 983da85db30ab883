"""``python -m benchmarks.cache_memory``: does the response cache stay within BOOKSTORE_CACHE_MB?

Serves the benchmark database with one worker per cache size, reads the
worker's RSS once it has answered a few hundred distinct listings (its
baseline, warm), then asks twice for more distinct listings than the
largest cache holds (every category at several page sizes and sort orders:
bodies of 1 to 40 KB; the second pass evicts and refills, as a
long-running process does) and reads the RSS again. With a cache of M MB,
the growth less the growth of the same run's worker with the cache off (0)
should stay below M, and so should the RSS after less that worker's RSS
after, which also counts what the cache took during the warm-up::

    python -m benchmarks.cache_memory --database bench_scale --cache-mb 0 8 32 64 --runs 3

``--checkout DIR`` serves another checkout of the project (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx

from benchmarks.database import server_dsn, with_database
from benchmarks.machine import python_speed_ms
from benchmarks.processes import listening_pids
from benchmarks.servers import free_port, product_spec, running_server

PROJECT_DIR = Path(__file__).resolve().parent.parent
PAGE_SIZES = (1, 5, 10, 20, 50, 100)
# Each order is another set of distinct pages of the same sizes: 300
# categories at the six page sizes are about 25 MB of bodies, not enough to
# fill a 64 MB cache.
SORTS = ("title", "-title", "price", "-price", "published_year", "-published_year")


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
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def one(path: str) -> None:
            nonlocal total
            async with semaphore:
                response = await http.get(path)
                if response.status_code == 200:
                    total += len(response.content)

        await asyncio.gather(*(one(path) for path in paths))
    return total


def rss_after_mb(
    checkout: Path, dsn: str, cache_mb: float, slugs: list[str], sorts: int
) -> tuple[float, float]:
    """RSS growth of one fresh worker with ``cache_mb`` after the flood, and its RSS then."""
    warm = [f"/books?category={slug}&limit=1" for slug in slugs[:300]]
    flood = [
        f"/books?category={slug}&limit={size}&sort={sort}"
        for sort in SORTS[:sorts]
        for size in PAGE_SIZES
        for slug in slugs
    ]
    spec = product_spec(checkout, free_port(), extra_env={"BOOKSTORE_CACHE_MB": str(cache_mb)})
    log_dir = PROJECT_DIR / "benchmarks" / "results" / "cache-memory"
    with running_server(spec, dsn, log_dir) as server:
        [worker] = listening_pids(spec.port)
        asyncio.run(ask(server.base_url, warm))
        baseline = rss_mb(worker)
        offered = asyncio.run(ask(server.base_url, flood))
        offered += asyncio.run(ask(server.base_url, flood))
        after = rss_mb(worker)
    print(
        f"cache {cache_mb:g} MB: baseline RSS {baseline:.1f} MB, after {after:.1f} MB "
        f"(+{after - baseline:.1f} MB) having answered {len(flood) * 2:,} requests for "
        f"{len(flood):,} distinct pages, {offered / 2**20:.1f} MB in all",
        flush=True,
    )
    return after - baseline, after


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache_memory", description=__doc__)
    parser.add_argument("--database", default="bookstore_bench")
    parser.add_argument(
        "--cache-mb", type=float, nargs="+", default=[0, 8], help="cache sizes, 0 = off"
    )
    parser.add_argument("--runs", type=int, default=1, help="times each size is measured")
    parser.add_argument(
        "--sorts", type=int, default=3, choices=range(1, len(SORTS) + 1),
        help="sort orders asked for: each adds about 25 MB of distinct pages",
    )  # fmt: skip
    parser.add_argument("--checkout", type=Path, default=PROJECT_DIR, help="the project to serve")
    args = parser.parse_args(argv)
    dsn = with_database(server_dsn(PROJECT_DIR), args.database)
    slugs = asyncio.run(category_slugs(dsn))
    print(
        f"load average {os.getloadavg()[0]:.1f}, python_speed_ms {python_speed_ms():.0f}, "
        f"checkout {args.checkout.resolve()}",
        flush=True,
    )
    runs: dict[float, list[tuple[float, float]]] = {size: [] for size in args.cache_mb}
    for _ in range(args.runs):
        for size in args.cache_mb:
            runs[size].append(rss_after_mb(args.checkout.resolve(), dsn, size, slugs, args.sorts))
    off = runs.get(0.0)
    for size, measured in runs.items():
        line = f"cache {size:g} MB: growth " + ", ".join(f"{g:.1f}" for g, _ in measured) + " MB"
        if off and size:
            # Each run against the cache-off worker of the same run. The growth
            # misses what the cache took before the baseline (the warm-up's
            # answers, its bookkeeping): the RSS after is the whole of it.
            grown = [g - off_g for (g, _), (off_g, _) in zip(measured, off, strict=True)]
            held = [a - off_a for (_, a), (_, off_a) in zip(measured, off, strict=True)]
            line += (
                f"; less cache-off's: growth {', '.join(f'{v:.1f}' for v in grown)}, "
                f"RSS after {', '.join(f'{v:.1f}' for v in held)} (bound {size:g})"
            )
        print(line)
    print(f"load average {os.getloadavg()[0]:.1f}, python_speed_ms {python_speed_ms():.0f}")


if __name__ == "__main__":
    main()
