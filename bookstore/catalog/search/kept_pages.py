"""A search's first page by relevance, planned once for its terms and kept per catalog version.

Planning a page of several terms (``plans``: the GIN scan or the walk;
``levels``: the walks and their arrays) is the worker's largest share of a
search beyond a listing's: some 60-85 us of about 0.8 ms of its CPU for a
q_prefix request at 1M books (2026-11-30, docs/performance-journal.md,
"q_prefix: where a request's CPU goes; a first page planned once"). What
the planning gives depends only on the terms (their words, books and
postings), the phrases, the exclusions, the page's size and the catalog's
size, when the search has no filter and starts at its first page. The terms are kept per catalog
version (``kept_terms``) and a text typed again is given the very same
``ResolvedTerm`` objects, so the statement planned for them is kept here,
under the catalog version this process knows, keyed by the terms'
identities. Only the statement is kept, never its rows: PostgreSQL reads
the page anew for every request, and a text searched once, a filtered
search or a later page is planned as before.

>>> keep_first_page(7, match, Criteria(), 21, 1_000_000, statement)
>>> kept_first_page(7, match, Criteria(), 21, 1_000_000) is statement
True
"""

from __future__ import annotations

from collections.abc import Hashable

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.kept import KeptAtVersion
from bookstore.catalog.search.pages import Match
from bookstore.catalog.search.vocabulary import ResolvedTerm
from bookstore.settings import get_settings

# A kept first page: its terms (held, so that no other object takes one of
# their ids while the page is kept) and its statement.
KeptPage = tuple[tuple[ResolvedTerm, ...], QueryString]


def _key(match: Match, rows: int, catalog_books: int) -> Hashable:
    """What the planned statement depends on: the terms' lookups, by identity, and the rest.

    A term is known by its variants, the tuple its kept lookup holds, not by
    the ``ResolvedTerm`` itself: a text typed another way ("Map la" after
    "map la") is given new ``ResolvedTerm``s around the same kept lookup
    (``vocabulary._from_kept``), which planned the same statement again on
    every request and kept one more copy of it each time.
    """
    return (
        tuple(id(term.variants) for term in match.terms),
        match.phrases,
        match.excluded,
        rows,
        catalog_books,
    )


def kept_first_page(
    version: int | None, match: Match, criteria: Criteria, rows: int, catalog_books: int
) -> QueryString | None:
    """The statement kept at ``version`` for the first page of ``match`` without filters."""
    if not match.terms or not criteria.asks_nothing():
        return None
    held = kept_pages().held(version, _key(match, rows, catalog_books))
    return None if held is None else held[1]


def keep_first_page(
    version: int | None,
    match: Match,
    criteria: Criteria,
    rows: int,
    catalog_books: int,
    page: QueryString,
) -> None:
    """Keep ``page``, the statement planned for the first page of ``match`` (no filters),
    at ``version``: the catalog version this process knew when its terms were resolved."""
    if match.terms and criteria.asks_nothing():
        kept_pages().keep(version, _key(match, rows, catalog_books), (match.terms, page))


_kept: KeptAtVersion[Hashable, KeptPage] | None = None


def kept_pages() -> KeptAtVersion[Hashable, KeptPage]:
    """This process's kept first pages: as many as kept terms (``BOOKSTORE_KEPT_TERMS``),
    about 1.7 KB each for q_prefix's texts at 1M books, some 6 KB for a long text that
    finds nothing: each word it drops is a first page tried and kept (i9reviewB)."""
    global _kept
    if _kept is None:
        _kept = KeptAtVersion(get_settings().kept_terms)
    return _kept
