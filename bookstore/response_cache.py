"""Listing and search responses kept in memory, for one catalog version.

Storefront traffic asks the same few questions all day: the first page of
a popular category, the search box's favourite words. A response depends
only on the request and on the catalog, so one kept under (catalog
version, normalized request) stays right until the catalog changes; a new
version empties the cache (``clear_for``). Only whole 200 answers are kept.

Memory is bounded by ``max_bytes`` (``BOOKSTORE_CACHE_MB``); the least
recently used entries go first. The bodies live in a ``BodyArena``, blocks
of one anonymous mapping, not in ``bytes`` objects: kept in bytes, bodies
of 1 to 40 KB evicted and replaced left glibc's heap with free space
between the kept ones that it did not give back, and a worker with an 8 MB
cache grew 9.8 MB more than one with the cache off (2026-11-29). What is
counted (``ResponseCache.bytes``) is what the process holds for the cache:
the arena's blocks ever written and its bookkeeping
(``BodyArena.resident_bytes``), and each entry's Python objects
(``entry_bytes``: key, entry, search record, slot in the map). A hit copies
its body out of the arena (about a microsecond for 10 KB): the blocks are
another body's once it is evicted, and the server may still hold the
answer then.

>>> cache = ResponseCache(max_bytes=64 * 2**20)
>>> cache.clear_for(7)
>>> cache.put(7, "/books?q=dune", b"{...}", record=None)
>>> cache.get(7, "/books?q=dune").body
b'{...}'
"""

from __future__ import annotations

import mmap
import sys
from array import array
from collections import OrderedDict
from dataclasses import dataclass

from bookstore.search_log import SearchRecord

# The OrderedDict's slot and its node for one entry (66 bytes measured by
# tracemalloc over 20,000 entries on CPython 3.11), doubled for the slots
# a growing table keeps free.
CONTAINER_BYTES = 128
# What an entry's Python objects cost the process, for what ``sys.getsizeof``
# says. They live in pymalloc's arenas among each request's short-lived
# objects, and an arena one of them still uses is not given back: the
# process keeps part of its peak of requests in flight. Counted at 1.0, a
# server filling 8, 32 and 64 MiB caches held 0.2, 0.4 and 0.6 MiB more
# than the bound over a worker with the cache off after the same requests
# (``benchmarks.cache_memory``, 2026-11-29); at 1.5, 32 MiB was within it and
# 8 MiB still 0.2-0.3 over. The part kept grows with the requests in flight,
# not with the entries, so no factor covers it in general (docs/performance.md).
OBJECTS_FACTOR = 1.5
# A body takes whole blocks: 1 KiB wastes half a KiB per body on average
# (bodies are 1 to 40 KB), and a 40 KB body is 40 blocks to free and reuse.
BLOCK_BYTES = 1024
# The arena's bookkeeping: three unsigned ints per block (free list, run
# length, next run), allocated once.
BOOKKEEPING_BYTES_PER_BLOCK = 3 * array("I").itemsize
# The ``next_run`` of a body's last run.
NO_RUN = 0xFFFFFFFF


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


class BodyArena:
    """Bodies in blocks of one private anonymous mapping, any block for any body.

    Every block is the same size and a body's blocks need not be adjacent,
    so a block freed by an eviction serves the next body whatever its size:
    nothing is lost between bodies. A body is a chain of runs of adjacent
    blocks: ``run_blocks[b]`` and ``next_run[b]`` for the run starting at
    block ``b``; so an entry is its first block and length, whatever the
    chain, and reading it is one copy per run (one, most often).

    The mapping is reserved at the bound but the kernel gives it a page only
    when a block is first written, and freed blocks are reused before new
    ones: the memory it takes is the most blocks in use at once, plus the
    bookkeeping (``resident_bytes``), until ``reset`` hands the pages back.
    """

    def __init__(self, max_bytes: int, block_bytes: int = BLOCK_BYTES) -> None:
        self.block_bytes = block_bytes
        self.blocks = max(1, max_bytes // (block_bytes + BOOKKEEPING_BYTES_PER_BLOCK))
        # Private: a worker forked after it was made gets its own pages.
        self.memory = mmap.mmap(
            -1, self.blocks * block_bytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        )
        self._view = memoryview(self.memory)
        zeros = bytes(self.blocks * array("I").itemsize)
        self._run_blocks = array("I", zeros)
        self._next_run = array("I", zeros)
        # A stack of freed blocks, held in [0, free_count); an evicted body's
        # blocks are pushed in reverse so that the next body takes them in order.
        self._free = array("I", zeros)
        self.free_count = 0
        self.written = 0  # blocks [0, written) have had a page
        self.bookkeeping_bytes = sum(
            sys.getsizeof(table) for table in (self._run_blocks, self._next_run, self._free)
        )

    @property
    def resident_bytes(self) -> int:
        """The blocks ever written and the bookkeeping: what the arena holds."""
        return self.written * self.block_bytes + self.bookkeeping_bytes

    def blocks_for(self, length: int) -> int:
        return -(-length // self.block_bytes)

    def unwritten_needed(self, length: int) -> int:
        """Blocks never written that a body of ``length`` would take now."""
        return max(0, self.blocks_for(length) - self.free_count)

    def store(self, body: bytes) -> int:
        """Copy ``body`` into free blocks (the caller made room); its first block."""
        count = self.blocks_for(len(body))
        if count == 0:
            return NO_RUN
        reused = min(count, self.free_count)
        taken = self._free[self.free_count - reused : self.free_count][::-1].tolist()
        self.free_count -= reused
        taken.extend(range(self.written, self.written + count - reused))
        self.written += count - reused
        size, source, view = self.block_bytes, memoryview(body), self._view
        starts: list[int] = []
        done = 0
        run_start = 0
        for index, block in enumerate(taken):
            if index + 1 < count and taken[index + 1] == block + 1:
                continue
            first = taken[run_start]
            length = min((index + 1 - run_start) * size, len(body) - done)
            view[first * size : first * size + length] = source[done : done + length]
            self._run_blocks[first] = index + 1 - run_start
            starts.append(first)
            done += length
            run_start = index + 1
        for first, following in zip(starts, [*starts[1:], NO_RUN], strict=True):
            self._next_run[first] = following
        return starts[0]

    def read(self, first: int, length: int) -> bytes:
        """A copy of the body: its blocks are reused once it is evicted."""
        size = self.block_bytes
        if length == 0:
            return b""
        if self._run_blocks[first] * size >= length:
            return self.memory[first * size : first * size + length]
        parts = []
        while length > 0:
            take = min(self._run_blocks[first] * size, length)
            parts.append(self._view[first * size : first * size + take])
            length -= take
            first = self._next_run[first]
        return b"".join(parts)

    def runs(self, first: int) -> int:
        """How many runs of adjacent blocks the body starting at ``first`` takes."""
        count = 0
        while first != NO_RUN:
            count += 1
            first = self._next_run[first]
        return count

    def release(self, first: int) -> None:
        runs = []
        while first != NO_RUN:
            runs.append(range(first + self._run_blocks[first] - 1, first - 1, -1))
            first = self._next_run[first]
        for run in reversed(runs):
            for block in run:
                self._free[self.free_count] = block
                self.free_count += 1

    def reset(self) -> None:
        """Forget every body and give the pages back to the kernel."""
        if self.written:
            self.memory.madvise(mmap.MADV_DONTNEED, 0, self.written * self.block_bytes)
        self.free_count = 0
        self.written = 0


@dataclass(slots=True)
class CachedResponse:
    """A 200 answer's body, and the search it logs when served again (if any).

    Made anew for each hit (not frozen: a frozen dataclass takes twice as long to make).
    """

    body: bytes
    record: SearchRecord | None


@dataclass(frozen=True, slots=True)
class _Entry:
    """Where a kept body is in the arena, and its search record.

    ``start`` and ``stop`` are the body's bytes when it is one run of blocks
    (``stop`` -1 otherwise): a hit then reads it with one slice, no call.
    """

    first: int
    length: int
    start: int
    stop: int
    counted: int  # entry_bytes, as counted when kept
    record: SearchRecord | None


def entry_bytes(key: str, record: SearchRecord | None) -> int:
    """The Python objects one entry holds besides its blocks, its slot in the map included.

    The entry and its five ints, counted at their largest (the ints below
    257 are shared, the others each an object); all of it times
    ``OBJECTS_FACTOR``.
    """
    held = sys.getsizeof(key) + _ENTRY_BYTES + record_bytes(record) + CONTAINER_BYTES
    return int(held * OBJECTS_FACTOR)


_ENTRY_BYTES = sys.getsizeof(_Entry(0, 0, 0, 0, 0, None)) + 5 * sys.getsizeof(NO_RUN)


class ResponseCache:
    """A least-recently-used map of (version, request) to responses, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.version: int | None = None
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.arena = BodyArena(max_bytes) if max_bytes > 0 else None
        self._entries_bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.arena is not None

    @property
    def bytes(self) -> int:
        """What the cache holds: the arena's pages and the entries' objects."""
        if self.arena is None:
            return 0
        return self.arena.resident_bytes + self._entries_bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear_for(self, version: int) -> None:
        """Forget everything kept for another version than ``version``."""
        if version != self.version:
            self._entries.clear()
            self._entries_bytes = 0
            if self.arena is not None:
                self.arena.reset()
            self.version = version

    def get(self, version: int, key: str) -> CachedResponse | None:
        if version != self.version:
            self.misses += 1
            return None
        entry = self._entries.get(key)
        if entry is None or self.arena is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        if entry.stop >= 0:
            return CachedResponse(self.arena.memory[entry.start : entry.stop], entry.record)
        return CachedResponse(self.arena.read(entry.first, entry.length), entry.record)

    def runs_of(self, key: str) -> int:
        """How many runs of blocks the body kept under ``key`` takes (0: not kept)."""
        entry = self._entries.get(key)
        if entry is None or self.arena is None:
            return 0
        return self.arena.runs(entry.first)

    def put(self, version: int, key: str, body: bytes, record: SearchRecord | None) -> None:
        """Keep ``body``, evicting the least recently used until it fits in ``max_bytes``.

        An answer computed for an older version than the current one is
        dropped, not kept: it may predate a write.
        """
        arena = self.arena
        if version != self.version or arena is None:
            return
        self._forget(key)
        objects = entry_bytes(key, record)
        if not self._fits(len(body), objects, empty=True):
            return
        while self._entries and not self._fits(len(body), objects):
            self._forget(next(iter(self._entries)))
        if not self._fits(len(body), objects):
            # Empty, yet the pages once written leave no room: start afresh.
            arena.reset()
        first = arena.store(body)
        start = first * arena.block_bytes if body else 0
        stop = start + len(body) if arena.runs(first) <= 1 else -1
        self._entries[key] = _Entry(first, len(body), start, stop, objects, record)
        self._entries_bytes += objects

    def _fits(self, length: int, objects: int, *, empty: bool = False) -> bool:
        """Whether a body of ``length`` and its entry fit now (or in an empty cache)."""
        arena = self.arena
        assert arena is not None
        if empty:
            return arena.blocks_for(length) <= arena.blocks and (
                arena.bookkeeping_bytes + arena.blocks_for(length) * arena.block_bytes + objects
                <= self.max_bytes
            )
        new_pages = arena.unwritten_needed(length) * arena.block_bytes
        return arena.resident_bytes + new_pages + self._entries_bytes + objects <= self.max_bytes

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and self.arena is not None:
            self.arena.release(entry.first)
            self._entries_bytes -= entry.counted
