"""Answers kept in memory for the one catalog version they were read at.

Several lookups answer the same for every request until the catalog
changes: a search term's words and corrections, a listing's category
slug, the counts of a set of categories. Each write to the catalog moves
``catalog_version`` in its own transaction (``bookstore.catalog_version``),
so an answer read in the same snapshot as the version holds exactly for
that version, and every process can keep it until it learns of a newer
one. This is the one container they share.

It only goes forward: a replica behind the primary answers an older
version, whose answers are not kept over the newer ones, and the first
answer at a newer version drops all the others. It holds ``capacity``
answers at most; the least recently used go first.

>>> kept = KeptAtVersion[str, int](capacity=2)
>>> kept.keep(7, "fantasy", 12)
True
>>> kept.held(7, "fantasy"), kept.held(8, "fantasy")
(12, None)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeptAtVersion(Generic[K, V]):
    """At most ``capacity`` answers, all read at ``version``."""

    __slots__ = ("_answers", "capacity", "version")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.version: int | None = None
        self._answers: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def held(self, version: int | None, key: K) -> V | None:
        """The answer kept for ``key`` if it was read at ``version``."""
        if version is None or version != self.version:
            return None
        return self.latest(key)

    def held_all(self, version: int | None, keys: Iterable[K]) -> dict[K, V]:
        """The answers kept at ``version`` for those of ``keys`` that have one."""
        held: dict[K, V] = {}
        for key in keys:
            if (answer := self.held(version, key)) is not None:
                held[key] = answer
        return held

    def latest(self, key: K) -> V | None:
        """The answer kept for ``key`` at whichever version is kept (the caller checks it)."""
        answer = self._answers.pop(key, None)
        if answer is not None:
            self._answers[key] = answer  # the most recently used last
        return answer

    def keep(self, version: int | None, key: K, answer: V) -> bool:
        """Keep ``answer``, read at ``version``, unless a newer version is kept; whether it was."""
        if not self.moved_to(version):
            return False
        self._answers.pop(key, None)
        self._answers[key] = answer
        while len(self._answers) > self.capacity:
            del self._answers[next(iter(self._answers))]
        return True

    def moved_to(self, version: int | None) -> bool:
        """Whether answers read at ``version`` may be kept; a newer version drops the others."""
        if version is None or self.capacity <= 0:
            return False
        if self.version is not None and version < self.version:
            return False
        if version != self.version:
            self.version = version
            self._answers = {}
        return True

    def clear(self) -> None:
        self.version = None
        self._answers = {}
