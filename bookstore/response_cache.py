"""Listing and search responses kept in memory, for one catalog version.

Storefront traffic asks the same few questions all day: the first page of
a popular category, the search box's favourite words. A response depends
only on the request and on the catalog, so one kept under (catalog
version, normalized request) stays right until the catalog changes; a new
version empties the cache (``clear_for``). Only whole 200 answers are kept.

Memory is bounded by ``max_bytes`` (``BOOKSTORE_CACHE_MB``), counting each
body and key plus a fixed overhead per entry measured on CPython 3.11 (the
entry, its tuple and the dict's slot); the least recently used entries go
first.

>>> cache = ResponseCache(max_bytes=64 * 2**20)
>>> cache.put(7, "/books?q=dune", CachedResponse(b"{...}", record=None))
>>> cache.get(7, "/books?q=dune").body
b'{...}'
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bookstore.search_log import SearchRecord

# Python objects around each entry beyond the body's and key's characters:
# the entry and the OrderedDict's node (114 bytes, tracemalloc over 10,000
# entries), the bytes and str headers (82), and the search record kept with
# it (about 300 with its strings and timestamp). Rounded up.
ENTRY_OVERHEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A 200 answer's body, and the search it logs when served again (if any)."""

    body: bytes
    record: SearchRecord | None

    def size(self, key: str) -> int:
        return len(self.body) + len(key) + ENTRY_OVERHEAD_BYTES


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
