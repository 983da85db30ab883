"""The warm pass: every distinct path of a run requested once, before the run is timed.

A server just started, on a database whose pages are partly out of memory,
answers its first request for each text slower than its second: on the
embedded PostgreSQL 18, right after a restart, the first pass of a search
shape ran up to 1.75 times slower than the second (docs/performance-journal.md,
session 29's end runs). The timed warm-up (``--warmup`` seconds of wrk over
random paths) leaves some of a scenario's 500 texts untouched, the more so
the slower the shape; the measured run then pays for their first reads, and
pays more for a slow shape than for ``category_big``'s ten paths. Issue 9's
targets are steady-state ones, so every (scenario, target) first meets each
of its paths once here, the same way for all.

A client in the bench process, not wrk: wrk runs for a duration and draws
paths at random, while this pass must send each path exactly once and stop.
It asks with a few keep-alive connections, one thread each; the server's
work per request (a search) dwarfs the client's, and nothing is timed while
the pass runs.

>>> warm_pass("http://127.0.0.1:8000", ["/books?q=ash", "/books?q=ash", "/books/1"]).paths
2
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from benchmarks.wrk import REQUEST_TIMEOUT_S

# A small concurrency: enough to keep the server's one worker and the database
# busy, few enough that the pass does not queue (a queued request only waits).
WARM_PASS_CONNECTIONS = 4


@dataclass(frozen=True)
class WarmPassResult:
    """What one pass sent and got back.

    ``sent`` counts every request written, answered or not (a request that
    timed out here may still have been handled, and logged, by the server);
    ``failures`` those that got no answer at all.
    """

    paths: int
    sent: int
    answered_2xx: int
    seconds: float
    # Answers other than 2xx, by status.
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) + self.failures


@dataclass
class _Tally:
    """Counts shared by the pass's threads (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0


def _connection(base_url: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"not an http:// base URL: {base_url!r}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_S)


def _ask_each(base_url: str, paths: Iterator[str], take: threading.Lock, tally: _Tally) -> None:
    """One connection's share: takes paths from ``paths`` until none is left."""
    connection = _connection(base_url)
    try:
        while True:
            with take:
                path = next(paths, None)
            if path is None:
                return
            with tally.lock:
                tally.sent += 1
            try:
                connection.request("GET", path)
                with connection.getresponse() as response:
                    response.read()
                    status = response.status
            except (OSError, http.client.HTTPException):
                # No retry: the server may have handled it, and a second
                # request would be a second search (and search_logs row).
                with tally.lock:
                    tally.failures += 1
                connection.close()
                connection = _connection(base_url)
                continue
            with tally.lock:
                tally.statuses[status] += 1
    finally:
        connection.close()


def warm_pass(
    base_url: str, paths: Sequence[str], *, connections: int = WARM_PASS_CONNECTIONS
) -> WarmPassResult:
    """Request each distinct path of ``paths`` once, ``connections`` at a time, in order."""
    distinct = list(dict.fromkeys(paths))
    remaining, take, tally = iter(distinct), threading.Lock(), _Tally()
    workers = max(1, min(connections, len(distinct)))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warm-pass") as pool:
        for future in [
            pool.submit(_ask_each, base_url, remaining, take, tally) for _ in range(workers)
        ]:
            future.result()
    seconds = time.perf_counter() - started
    answered_2xx = sum(count for status, count in tally.statuses.items() if 200 <= status < 300)
    return WarmPassResult(
        paths=len(distinct),
        sent=tally.sent,
        answered_2xx=answered_2xx,
        seconds=seconds,
        statuses={
            status: count
            for status, count in sorted(tally.statuses.items())
            if not 200 <= status < 300
        },
        failures=tally.failures,
    )
