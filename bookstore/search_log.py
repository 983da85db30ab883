"""Logging searches to ``search_logs`` after the response has been sent.

The write runs as a FastAPI background task, so the client never waits for
it, and it swallows its own failures: losing a log row must never fail or
slow a search. Failures are logged and counted so they are visible.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from bookstore.tables import SearchLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchRecord:
    author: str | None
    category: str | None
    query: str | None
    result_count: int
    duration_ms: float


class SearchLogger:
    """Writes search records; one instance per app, counting what it lost."""

    def __init__(self) -> None:
        self.written = 0
        self.failed = 0

    async def write(self, record: SearchRecord) -> None:
        try:
            await SearchLog.insert(SearchLog(**asdict(record)))
        except Exception:
            self.failed += 1
            logger.exception("could not write a search log row (%d lost so far)", self.failed)
        else:
            self.written += 1
