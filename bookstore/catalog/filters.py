"""What a listing of books asks for, and those terms resolved to ids.

``BookFilters`` is what the client sent; ``resolve`` turns its free-text
terms into ids in one statement, so that the page statement
(``bookstore.catalog.listing``) receives plain ids and its plan does not
depend on how selective a pattern is.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from piccolo.querystring import QueryString

from bookstore.catalog.kept import KeptAtVersion
from bookstore.catalog.statements import contains_pattern, has_trigram, literal_limit
from bookstore.database import DatabaseConnection, fetch
from bookstore.query_text import Sql

CategoryMode = Literal["any", "all"]


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(dict.fromkeys(value))  # each once, in the order given
    return (value,)


@dataclass(frozen=True)
class BookFilters:
    """The search terms of ``GET /books``; all given ones must hold (AND).

    ``category`` (slugs or names) and ``category_id`` may each be one value
    or several; they are kept as tuples. The categories they name, together,
    are combined by ``category_mode``: ``any`` lists the books in at least
    one of them, ``all`` the books in every one. Ranges are inclusive; a
    book without a year or a price is outside any range on that field.
    """

    author: str | None = None
    category: str | tuple[str, ...] | None = None
    author_id: int | None = None
    category_id: int | tuple[int, ...] | None = None
    category_mode: CategoryMode = "any"
    year_min: int | None = None
    year_max: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", _as_tuple(self.category))
        object.__setattr__(self, "category_id", _as_tuple(self.category_id))

    @property
    def categories(self) -> tuple[str, ...]:
        return self.category  # type: ignore[return-value]  # a tuple since __post_init__

    @property
    def category_ids(self) -> tuple[int, ...]:
        return self.category_id  # type: ignore[return-value]

    def terms(self) -> tuple[object, ...]:
        """Every term, as plain JSON-able values: the scope a cursor is signed for.

        The categories are sorted: ``?category=a&category=b`` and its reverse
        ask the same, and the response cache (which sorts the parameters)
        may answer one with the other's page, cursor included.
        """
        return (
            self.author,
            sorted(self.categories),
            self.author_id,
            sorted(self.category_ids),
            self.category_mode if len(self.categories) + len(self.category_ids) > 1 else None,
            self.year_min,
            self.year_max,
            None if self.price_min is None else str(self.price_min),
            None if self.price_max is None else str(self.price_max),
        )

    def terms_before_browsing(self) -> tuple[object, ...] | None:
        """The terms as cursors were signed for before issue 10, when they can say them.

        Then a listing took one ``category``, one ``category_id`` and no
        ranges, in title order only; its cursor (the last title and id) still
        marks a place in title order. None when these filters are not of
        that kind.
        """
        if len(self.categories) > 1 or len(self.category_ids) > 1 or self.has_ranges():
            return None
        return (
            self.author,
            self.categories[0] if self.categories else None,
            self.author_id,
            self.category_ids[0] if self.category_ids else None,
        )

    def has_ranges(self) -> bool:
        return any(
            value is not None
            for value in (self.year_min, self.year_max, self.price_min, self.price_max)
        )

    def is_search(self) -> bool:
        return (
            self.author is not None
            or self.author_id is not None
            or bool(self.categories)
            or bool(self.category_ids)
            or self.has_ranges()
        )


# Up to this many authors matching ?author=, a page gathers their books
# through books (author_id, title, id) and sorts them; beyond it, walking the
# title index until a page is full is cheaper (measured: docs/performance.md).
NARROW_AUTHOR_MATCH = 1000
# The authors' books a text search counts (``Criteria.author_books``): it
# reads them whole only up to ``search.pages.FEW_AUTHORS_BOOKS``, so counting
# further would be wasted.
AUTHOR_BOOKS_COUNTED = 2_000


@dataclass(frozen=True)
class Criteria:
    """What a book must satisfy, with the free-text terms resolved to ids.

    ``author_ids``: the book's author is one of these (a short list).
    ``author_pattern``: the author's name matches (too many authors to list).
    ``category_sets``: for each set, the book is in one of its categories.
    ``year``, ``price``: inclusive (min, max) ranges, either end None when open.
    ``category_books``: how many books each category of the sets holds
    (``resolve(..., category_books=True)``), which a text search reads to
    choose how to look for its matches in a category.
    ``author_books``: how many books the authors of ``author_ids`` hold, counted
    up to AUTHOR_BOOKS_COUNTED + 1 (``resolve(..., category_books=True)`` with an
    author named): a text search reads their books whole when they are few
    (``search.plans.reads_authors_books``).
    ``merge_first_two_sets``: how a page is read, not what it holds: the first
    two category sets (one category each) are read side by side in title
    order rather than the first walked and the second probed per book
    (``bookstore.catalog.listing.smallest_first`` decides).
    ``catalog_version``: the catalog's version in the snapshot the terms were
    looked up in, when asked (``resolve(..., catalog_version=True)``): what
    counts kept for that version are good for (``category_counts``). Not
    part of what a book must satisfy, so not compared.
    ``unconfirmed``: the terms' ids were taken from ``KeptLookups`` without a
    statement; they hold for the page only if the page's own snapshot has
    the same ``catalog_version`` (``bookstore.catalog.listing``).
    """

    author_ids: list[int] | None = None
    author_pattern: str | None = None
    category_sets: tuple[list[int], ...] = ()
    year: tuple[int | None, int | None] = (None, None)
    price: tuple[Decimal | None, Decimal | None] = (None, None)
    # The books of each category named, when ``resolve`` was asked for them.
    category_books: dict[int, int] | None = None
    author_books: int | None = None
    merge_first_two_sets: bool = False
    catalog_version: int | None = field(default=None, compare=False)
    unconfirmed: bool = field(default=False, compare=False)

    def matches_nothing(self) -> bool:
        return self.author_ids == [] or any(not ids for ids in self.category_sets)

    def asks_nothing(self) -> bool:
        """Whether the criteria ask nothing of a book (no author, category, year or price):
        what a text search may plan from its terms' counts alone."""
        return (
            self.author_ids is None
            and self.author_pattern is None
            and not self.category_sets
            and self.year == (None, None)
            and self.price == (None, None)
        )


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
    return Sql(authors_named_sql(has_trigram(fragment)), contains_pattern(fragment))


def _author_lookup(fragment: str) -> QueryString:
    return Sql("ARRAY({}) AS author_ids", authors_named(fragment))


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
    if (
        filters.author_id is not None
        or filters.categories
        or filters.category_ids
        or filters.has_ranges()
    ):
        return None
    return filters.author


def found_broad(fragment: str) -> Criteria:
    """Remember that ``fragment`` matches too many authors to list; search it by pattern."""
    broad_fragments.add(fragment)
    return Criteria(author_pattern=contains_pattern(fragment))


@dataclass(frozen=True)
class CriteriaLookup:
    """The columns that look ``filters``' terms up, and how their values become ``Criteria``.

    ``resolve`` sends them as a statement of their own; a text search sends
    them alongside its vocabulary lookup (``search.vocabulary``), one round
    trip for both. ``columns`` is None when there is nothing to look up.
    Used as ``lookup = criteria_lookup(filters)``, ``lookup.columns`` selected
    by some statement, then ``lookup.criteria(row)``.
    """

    filters: BookFilters
    look_up_author: bool
    sized: bool
    authors_counted: bool
    columns: QueryString | None

    def key(self) -> Hashable:
        """What the looked-up values depend on: the same key, the same statement."""
        filters = self.filters
        return (
            filters.author if self.look_up_author else None,
            filters.categories,
            filters.category_ids if self.sized else None,
            # The books counted: the id's author's, else the named authors'.
            ("counted", filters.author_id) if self.authors_counted else None,
        )

    def criteria(self, found: Mapping[str, Any], *, unconfirmed: bool = False) -> Criteria:
        """The criteria, from the looked-up values (an empty mapping when nothing was)."""
        filters = self.filters
        author_ids: list[int] | None = None
        author_pattern = None
        if filters.author is not None:
            if self.look_up_author and len(found["author_ids"]) <= NARROW_AUTHOR_MATCH:
                author_ids = found["author_ids"]
            elif self.look_up_author:
                author_pattern = found_broad(filters.author).author_pattern
            else:
                author_pattern = contains_pattern(filters.author)
        if filters.author_id is not None:
            if author_ids is None or filters.author_id in author_ids:
                author_ids = [filters.author_id]
            else:
                author_ids = []  # that author's name does not match ?author=
        category_found = found.get("category_found")
        author_books = found.get("author_books") if author_ids else None
        return Criteria(
            author_ids,
            author_pattern,
            _category_sets(filters, found.get("category_terms") or [], category_found),
            (filters.year_min, filters.year_max),
            (filters.price_min, filters.price_max),
            {row[0]: row[1] for row in found.get("category_books") or []} if self.sized else None,
            author_books,
            catalog_version=found.get("catalog_version"),
            unconfirmed=unconfirmed,
        )


def criteria_lookup(
    filters: BookFilters, *, category_books: bool = False, catalog_version: bool = False
) -> CriteriaLookup:
    """What ``resolve`` looks up for ``filters``, as columns of one row.

    ?author= is matched against authors.name (see ``_author_lookup``), unless
    it is known to match too many authors to list (``broad_fragments``);
    each ?category= is a slug or a name, whatever the case (two different
    categories may match one term, one by each). ``category_books``: how many
    books each category named holds, too, and the authors' (``author_books``).
    ``catalog_version``: the catalog's version too, when there are terms to
    look up (alone it would cost the round trip it is meant to save).
    """
    lookups: list[QueryString] = []
    look_up_author = filters.author is not None and filters.author not in broad_fragments
    if look_up_author:
        lookups.append(_author_lookup(filters.author))
    if filters.categories:
        lookups.append(_categories_lookup(list(filters.categories)))
    sized = category_books and bool(filters.categories or filters.category_ids)
    if sized:
        lookups.append(
            _category_books_lookup(list(filters.categories), list(filters.category_ids))
        )
    counted = category_books and (look_up_author or filters.author_id is not None)
    if counted:
        lookups.append(_author_books_lookup(filters))
    if catalog_version and lookups:
        lookups.append(Sql("(SELECT version FROM catalog_version) AS catalog_version"))
    columns = Sql(", ".join("{}" for _ in lookups), *lookups) if lookups else None
    return CriteriaLookup(filters, look_up_author, sized, counted, columns)


async def resolve(
    filters: BookFilters,
    db: DatabaseConnection,
    *,
    category_books: bool = False,
    catalog_version: bool = False,
    kept: KeptLookups | None = None,
    refresh: bool = False,
) -> Criteria:
    """Turn ``filters`` into ``Criteria``, looking the terms up in one statement on ``db``.

    See ``criteria_lookup``; no statement when no term needs looking up.
    ``kept``: take the terms' ids from there when it holds them (no
    statement; the criteria are ``unconfirmed``), and keep what is looked up;
    ``refresh``: look them up even so (what was kept did not hold).
    """
    lookup = criteria_lookup(
        filters,
        category_books=category_books,
        catalog_version=catalog_version or kept is not None,
    )
    found: Mapping[str, Any] = {}
    if lookup.columns is not None:
        key = lookup.key() if kept is not None else None
        held = None if kept is None or refresh else kept.latest(key)
        if held is not None:
            criteria = lookup.criteria(held, unconfirmed=True)
            if not criteria.matches_nothing():
                return criteria
        (found,) = await fetch(db, Sql("SELECT {}", lookup.columns))
        criteria = lookup.criteria(found)
        if kept is not None and not criteria.matches_nothing():
            kept.keep(found["catalog_version"], key, found)
        return criteria
    return lookup.criteria(found)


# The answers of listings' term lookups (``?category=fantasy`` -> its id),
# kept for the catalog version they were read at. A category's listing
# looked its terms up in a statement of its own before its page: a round
# trip, about 7% of the worker's CPU for a ``category_big`` request
# (py-spy). A listing now takes the kept answer whatever its version
# (``KeptAtVersion.latest``: the criteria are ``unconfirmed``) and its page
# statement reads the version in its own snapshot: when that is the version
# the answer was read at, the answer held for the page; otherwise (a write
# in between) the listing looks the terms up again and reads the page again
# (``bookstore.catalog.listing``). Exact, and one statement where there were
# two.
KeptLookups = KeptAtVersion[Hashable, Mapping[str, Any]]

kept_lookups = KeptLookups(4096)


# The categories a term ``t.term`` names, as rows ``c (id)``: its slug or its
# name, whatever the case. Each is an index-only probe (``categories_slug_id_idx``,
# ``categories_lower_name_id_key``); an OR of the two conditions scanned every
# category instead.
_CATEGORIES_OF_TERM = (
    " CROSS JOIN LATERAL (SELECT id FROM categories WHERE slug = lower(t.term)"
    " UNION SELECT id FROM categories WHERE lower(name) = lower(t.term)) AS c"
)


def _categories_lookup(terms: list[str]) -> QueryString:
    """The categories each term names, as two parallel arrays: term number, category id."""
    matches = (
        " FROM unnest({}::text[]) WITH ORDINALITY AS t (term, ord)" + _CATEGORIES_OF_TERM + ")"
    )
    return Sql(
        "(SELECT array_agg(t.ord::integer ORDER BY t.ord, c.id)"
        + matches
        + " AS category_terms, (SELECT array_agg(c.id ORDER BY t.ord, c.id)"
        + matches
        + " AS category_found",
        terms,
        terms,
    )


def _category_books_lookup(terms: list[str], ids: list[int]) -> QueryString:
    """(category id, books) of every category ``terms`` name and of ``ids``.

    Summed from ``category_counts`` (a row per decade and price band of a
    category, kept by triggers): a few index entries, where counting the
    category's links up to 2,001 read them all, in a statement of its own.
    """
    return Sql(
        "(SELECT array_agg(ARRAY[k.id, (SELECT coalesce(sum(cc.books), 0)"
        " FROM category_counts cc WHERE cc.category_id = k.id)::integer])"
        " FROM (SELECT c.id FROM unnest({}::text[]) AS t (term)"
        + _CATEGORIES_OF_TERM
        + " UNION SELECT unnest({}::integer[])) AS k (id)) AS category_books",
        terms,
        ids,
    )


def _author_books_lookup(filters: BookFilters) -> QueryString:
    """How many books the authors of the criteria hold, up to AUTHOR_BOOKS_COUNTED + 1.

    ``?author_id=``'s, when given (the criteria keep it alone, or nothing);
    else the authors ``?author=`` names, looked up again (one trigram scan
    more, kept with the terms for the catalog version like the rest). An
    index-only read of ``books_author_id``, stopped past the bound.
    """
    if filters.author_id is not None or filters.author is None:
        authors = Sql("ARRAY[{}::integer]", filters.author_id)
    else:
        authors = Sql("ARRAY({})", authors_named(filters.author))
    return Sql(
        "(SELECT count(*) FROM (SELECT 1 FROM books WHERE author_id = ANY({})"
        f" {literal_limit(AUTHOR_BOOKS_COUNTED + 1)}) AS counted)::integer AS author_books",
        authors,
    )


def _category_sets(
    filters: BookFilters, term_numbers: list[int], found_ids: list[int] | None
) -> tuple[list[int], ...]:
    """The category sets a book must meet: one set for ``any``, one per category for ``all``.

    A term naming no category names an empty set: in ``all`` mode nothing
    matches it; in ``any`` mode the other categories still count.
    """
    by_term: list[list[int]] = [[] for _ in filters.categories]
    for number, category_id in zip(term_numbers, found_ids or [], strict=True):
        by_term[number - 1].append(category_id)
    sets = [*by_term, *([category_id] for category_id in filters.category_ids)]
    if not sets:
        return ()
    if filters.category_mode == "all":
        return tuple(sets)
    return (sorted({category_id for ids in sets for category_id in ids}),)
