"""Listing and search responses kept in memory, for one catalog version.

Storefront traffic asks the same few questions all day: the first page of
a popular category, the search box's favourite words. A response depends
only on the request and on the catalog, so one kept under (catalog
version, normalized request) stays right until the catalog changes; a new
version empties the cache (``clear_for``). Only whole 200 answers are kept.

Memory is bounded by ``max_bytes`` (``BOOKSTORE_CACHE_MB``), counting what
each entry holds (``CachedResponse.size``): its body, key and search record
as ``sys.getsizeof`` sizes them, and the OrderedDict's slot and node; the
least recently used entries go first.

A body is kept as a copy of exactly its length (``CachedResponse.keep``).
orjson returns its output in the buffer it grew while encoding, up to
twice as large as the body, and ``sys.getsizeof`` reports the body's length
only: kept as it was, 175 pages counted as 8.0 MB held 11.4 MB
(tracemalloc), and a worker with ``BOOKSTORE_CACHE_MB=8`` grew 13.3 MB more
than one with the cache off.

>>> cache = ResponseCache(max_bytes=64 * 2**20)
>>> cache.clear_for(7)
>>> cache.put(7, "/books?q=dune", CachedResponse.keep(b"{...}", record=None))
>>> cache.get(7, "/books?q=dune").body
b'{...}'
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass

from bookstore.search_log import SearchRecord

# The OrderedDict's slot and its node for one entry (66 bytes measured by
# tracemalloc over 20,000 entries on CPython 3.11), doubled for the slots
# a growing table keeps free.
CONTAINER_BYTES = 128


def record_bytes(record: SearchRecord | None) -> int:
    """What a kept search record holds: the object, its attributes' dict and values."""
    if record is None:
        return 0
    attributes = vars(record)
    return (
        sys.getsizeof(record)
        + sys.getsizeof(attributes)
        + sum(sys.getsizeof(value) for value in attributes.values() if value is not None)
    )


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A 200 answer's body, and the search it logs when served again (if any)."""

    body: bytes
    record: SearchRecord | None

    @classmethod
    def keep(cls, body: bytes, record: SearchRecord | None) -> CachedResponse:
        """An entry holding a copy of ``body`` of exactly its length (see the module)."""
        return cls(bytes(memoryview(body)), record)

    def size(self, key: str) -> int:
        """Bytes this entry holds under ``key``, the cache's own slot included."""
        return (
            sys.getsizeof(self)
            + sys.getsizeof(self.body)
            + sys.getsizeof(key)
            + record_bytes(self.record)
            + CONTAINER_BYTES
        )


class ResponseCache:
    """A least-recently-used map of (version, request) to responses, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.version: int | None = None
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear_for(self, version: int) -> None:
        """Forget everything kept for another version than ``version``."""
        if version != self.version:
            self._entries.clear()
            self.bytes = 0
            self.version = version

    def get(self, version: int, key: str) -> CachedResponse | None:
        if version != self.version:
            self.misses += 1
            return None
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, version: int, key: str, entry: CachedResponse) -> None:
        """Keep ``entry``, evicting the least recently used beyond ``max_bytes``.

        An answer computed for an older version than the current one is
        dropped, not kept: it may predate a write.
        """
        if version != self.version:
            return
        size = entry.size(key)
        if size > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous.size(key)
        self._entries[key] = entry
        self.bytes += size
        while self.bytes > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size(evicted_key)
