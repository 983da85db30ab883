"""What a listing of books asks for, and those terms resolved to ids.

``BookFilters`` is what the client sent; ``resolve`` turns its free-text
terms into ids in one statement, so that the page statement
(``bookstore.catalog.listing``) receives plain ids and its plan does not
depend on how selective a pattern is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from piccolo.querystring import QueryString

from bookstore.catalog.statements import contains_pattern, has_trigram, literal_limit
from bookstore.database import DatabaseConnection, fetch


@dataclass(frozen=True)
class BookFilters:
    """The search terms of ``GET /books``; all given ones must hold (AND)."""

    author: str | None = None
    category: str | None = None
    author_id: int | None = None
    category_id: int | None = None

    def terms(self) -> tuple[str | int | None, ...]:
        return (self.author, self.category, self.author_id, self.category_id)

    def is_search(self) -> bool:
        return any(value is not None for value in self.terms())


# Up to this many authors matching ?author=, a page gathers their books
# through books (author_id, title, id) and sorts them; beyond it, walking the
# title index until a page is full is cheaper (measured: docs/performance.md).
NARROW_AUTHOR_MATCH = 1000


@dataclass(frozen=True)
class Criteria:
    """What a book must satisfy, with the free-text terms resolved to ids.

    ``author_ids``: the book's author is one of these (a short list).
    ``author_pattern``: the author's name matches (too many authors to list).
    ``category_sets``: for each set, the book is in one of its categories.
    """

    author_ids: list[int] | None = None
    author_pattern: str | None = None
    category_sets: tuple[list[int], ...] = ()

    def matches_nothing(self) -> bool:
        return self.author_ids == [] or any(not ids for ids in self.category_sets)


def authors_named_sql(trigram: bool) -> str:
    """The ids of up to NARROW_AUTHOR_MATCH + 1 authors whose name matches the pattern ``{}``.

    The trigram index only helps a fragment holding a trigram (three word
    characters in a row); for "30" or "e" it would be read whole, 15-20 ms
    at 100,000 authors, and a generic plan cannot tell the two apart. Such
    short fragments match many names, so a scan of the table (the index
    hidden by ``|| ''``) finds the first thousand quickly: 0.4-3.5 ms.
    """
    column = "name" if trigram else "(name || '')"
    return (
        f"SELECT id FROM authors WHERE {column} ILIKE {{}}"
        f" {literal_limit(NARROW_AUTHOR_MATCH + 1)}"
    )


def authors_named(fragment: str) -> QueryString:
    """The ids of up to NARROW_AUTHOR_MATCH + 1 authors whose name contains ``fragment``."""
    return QueryString(authors_named_sql(has_trigram(fragment)), contains_pattern(fragment))


def _author_lookup(fragment: str) -> QueryString:
    return QueryString("ARRAY({}) AS author_ids", authors_named(fragment))


class BroadFragments:
    """Author fragments lately found to match more than NARROW_AUTHOR_MATCH authors.

    Such a fragment is searched by walking titles (``Criteria.author_pattern``),
    so counting its authors again is wasted: for "30" or "e", which no
    trigram index serves, the count was 2-5 ms, half the cost of the search.
    Only the choice of plan is remembered, never a result: a fragment that
    has since become narrow still gets the right books, by the slower walk,
    until it expires.
    """

    def __init__(self, capacity: int = 10_000, ttl_s: float = 300.0) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._seen: dict[str, float] = {}  # fragment -> when it was found broad

    def __contains__(self, fragment: object) -> bool:
        if not isinstance(fragment, str):
            return False
        seen = self._seen.get(fragment.lower())
        return seen is not None and time.monotonic() - seen < self.ttl_s

    def add(self, fragment: str) -> None:
        key = fragment.lower()
        self._seen.pop(key, None)
        if len(self._seen) >= self.capacity:
            del self._seen[next(iter(self._seen))]  # the oldest
        self._seen[key] = time.monotonic()

    def clear(self) -> None:
        self._seen.clear()


broad_fragments = BroadFragments()


def lone_author_fragment(filters: BookFilters) -> str | None:
    """``?author=`` when it is the only term and not known to be broad, else None.

    Such a search needs no separate lookup: ``bookstore.catalog.listing``
    sends the lookup of the authors and the page of their books as one
    statement, which also reports how many authors matched. A fragment that
    turns out broad (more than NARROW_AUTHOR_MATCH authors) is then
    remembered (``found_broad``) and searched by walking titles.
    """
    if filters.author is None or filters.author in broad_fragments:
        return None
    if sum(term is not None for term in filters.terms()) > 1:
        return None
    return filters.author


def found_broad(fragment: str) -> Criteria:
    """Remember that ``fragment`` matches too many authors to list; search it by pattern."""
    broad_fragments.add(fragment)
    return Criteria(author_pattern=contains_pattern(fragment))


async def resolve(filters: BookFilters, db: DatabaseConnection) -> Criteria:
    """Turn ``filters`` into ``Criteria``, looking the terms up in one statement on ``db``.

    ?author= is matched against authors.name (see ``_author_lookup``), unless
    it is known to match too many authors to list (``broad_fragments``);
    ?category= is a slug or a name, whatever the case (two different
    categories may match, one by each).
    """
    lookups: list[QueryString] = []
    look_up_author = filters.author is not None and filters.author not in broad_fragments
    if look_up_author:
        lookups.append(_author_lookup(filters.author))
    if filters.category is not None:
        lookups.append(
            QueryString(
                "ARRAY(SELECT id FROM categories, lower({}::text) AS term"
                " WHERE slug = term OR lower(name) = term) AS category_ids",
                filters.category,
            )
        )
    found: Mapping[str, Any] = {}
    if lookups:
        (found,) = await fetch(
            db, QueryString("SELECT {}", QueryString(", ".join("{}" for _ in lookups), *lookups))
        )

    author_ids: list[int] | None = None
    author_pattern = None
    if filters.author is not None:
        if look_up_author and len(found["author_ids"]) <= NARROW_AUTHOR_MATCH:
            author_ids = found["author_ids"]
        elif look_up_author:
            author_pattern = found_broad(filters.author).author_pattern
        else:
            author_pattern = contains_pattern(filters.author)
    if filters.author_id is not None:
        if author_ids is None or filters.author_id in author_ids:
            author_ids = [filters.author_id]
        else:
            author_ids = []  # that author's name does not match ?author=
    category_sets = []
    if filters.category_id is not None:
        category_sets.append([filters.category_id])
    if filters.category is not None:
        category_sets.append(found["category_ids"])
    return Criteria(author_ids, author_pattern, tuple(category_sets))
