"""``python tests/cache_fill.py MB``: a fresh process fills a response cache; its RSS growth.

For ``test_response_cache``: the bound is a claim about the process's
memory, so a process of its own measures it, from its ``VmRSS``, against
the same work with the cache off (``MB`` = 0). Pages of 1 to 100 books are
kept and read back among other allocations of similar sizes, as a worker
allocates while answering; a seeded random stream makes both runs alike.
Prints the growth in KiB.
"""

from __future__ import annotations

import gc
import random
import sys
from pathlib import Path

import orjson

from bookstore.response_cache import ResponseCache

PAGE_SIZES = (1, 5, 10, 20, 50, 100)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def page(rng: random.Random, n: int) -> bytes:
    """A listing's body, 1 to 40 KB."""
    books = [
        {"id": i, "title": f"Book {n} {i}", "description": "x" * rng.randrange(100, 300)}
        for i in range(rng.choice(PAGE_SIZES))
    ]
    return orjson.dumps({"items": books, "next_cursor": None})


def main(cache_mb: float, puts: int = 10_000) -> None:
    rng = random.Random(12)
    cache = ResponseCache(int(cache_mb * 2**20))
    cache.clear_for(1)
    # The allocator's first pages, taken with the cache off as on.
    warm = [page(rng, n) for n in range(300)]
    del warm
    gc.collect()
    kept_elsewhere = []
    before = rss_kib()
    for n in range(puts):
        answering = [bytes(rng.randrange(100, 20_000)) for _ in range(rng.randrange(1, 6))]
        if rng.random() < 0.02:
            kept_elsewhere.append(bytes(rng.randrange(100, 3_000)))
        asked, body = rng.randrange(max(n, 1)), page(rng, n)
        if cache.enabled:
            cache.get(1, f"/books?n={asked}")
            cache.put(1, f"/books?n={n}", body, record=None)
        del answering, body
    print(rss_kib() - before)


if __name__ == "__main__":
    main(float(sys.argv[1]))
