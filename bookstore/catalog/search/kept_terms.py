"""What the vocabulary lookup learnt about each term, kept for one catalog version.

Every search and every completion starts with the lookup of its terms
(``vocabulary.look_up_terms_alongside``): a statement of 0.6 to 4.8 ms of
PostgreSQL time on average at a million books (a misspelt word the most),
a round trip, and the worker's CPU to encode it and decode its rows. What
it answers for a term depends only on the term (as folded), on whether it
is being typed (its completions) and on the catalog: the same at one
catalog version. So a term's answer is kept here under the version read
in the same snapshot as the lookup, and a request that knows the catalog
to be at that version (``bookstore.catalog_version``: NOTIFY, a poll, and
a refresh after this process's own writes) resolves the term from memory. A search whose terms
are all kept sends no lookup at all; the others look up only the terms
missing.

Fresh in the sense the response cache is (``bookstore.response_cache``): a
write moves the catalog version, every process stops using what it kept
as soon as it learns of the new version (at once for its own writes,
within milliseconds by NOTIFY, ``poll_interval_s`` at worst) and drops it
at its first lookup at the new one, so a book created, renamed or deleted
is found, or not, by the next request.

A term is kept with its resolution as first made (``KeptTerm.resolved``):
a later search that typed it the same way is given that very object, with
what was computed from it alone (its word lists, its levels for the page
by levels: ``levels.kept_levels``), once per catalog version rather than
once per request.

Memory is bounded by a number of terms (``BOOKSTORE_KEPT_TERMS``, 10,000 by
default); the least recently used go first. With their resolutions and
levels, the terms of the benchmark's sampled texts at 1M books cost 1.5 KB
a word (q_words) and 3.6 KB on average for a word and a typed prefix with
its twenty completions (q_prefix), twice what the lookup alone cost
(tracemalloc, docs/performance.md): 10,000 terms are 15 MB of words, 36 MB
of terms like q_prefix's.

>>> kept = KeptTerms(max_terms=1000)
>>> kept.keep(7, 100_000, [(("dune", False), KeptTerm("dune", variants, None, None, True))])
>>> kept.held(7, ("dune", False), counted=True)
KeptTerm(lexeme='dune', ...)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from bookstore.catalog.kept import KeptAtVersion
from bookstore.settings import get_settings

if TYPE_CHECKING:
    from bookstore.catalog.search.vocabulary import ResolvedTerm, Variant

# A term as looked up: folded, and whether it is the last one being typed
# (then it also stands for its commonest completions).
TermKey = tuple[str, bool]


class KeptTerm(NamedTuple):
    """A term's resolution (``vocabulary.ResolvedTerm`` without the term as typed)."""

    lexeme: str | None
    variants: tuple[Variant, ...]
    correction: str | None
    surface: str | None
    # Its words came with their postings per field: what a search of several
    # terms needs. A term kept uncounted is looked up again by such a search.
    counted: bool
    # The term as first resolved, given again to a search that typed it the
    # same way (``vocabulary._from_kept``): what is computed from the term
    # alone (its word lists, its levels: ``levels.kept_levels``) is then
    # computed once per catalog version, not once per request.
    resolved: ResolvedTerm | None = None
    # The typed prefix's own postings, when they stand for its completions
    # (``ResolvedTerm.starred``).
    starred: Variant | None = None


class KeptTerms:
    """Terms resolved at one catalog version: ``max_terms`` at most, the least recently used go.

    ``top_book`` (the highest book id indexed, about the catalog's size) is
    kept with them: the statement reads it alongside the terms and the
    page's planner weighs categories against it. So are the values of the
    filters' lookup the statement carries (``alongside``: a search's
    categories and authors, by the key ``filters.CriteriaLookup.key``), as
    many as terms at most: a search in a category whose terms are all kept
    then sends no lookup either.

    A correction found only among a long word's trigram neighbours comes
    from the lookup without its postings per field or its spelling (the
    lookup would pay for them on the twenty neighbours it reads); the page
    asks for its postings (``levels.postings_per_field``) and the
    suggestion for its spelling (``vocabulary.surface_words``), each a
    statement of its own. Both are kept here per word, at the version read
    with them, as many as terms at most: such a search, asked again, sends
    its page alone, as any search of kept terms does.
    """

    def __init__(self, max_terms: int) -> None:
        self.terms = KeptAtVersion[TermKey, KeptTerm](max_terms)
        self.alongside = KeptAtVersion[Hashable, Mapping[str, Any]](max_terms)
        # A word's postings per field, and a stem as the catalog writes it.
        self.postings = KeptAtVersion[str, tuple[int, ...]](max_terms)
        self.surfaces = KeptAtVersion[str, str](max_terms)
        self.top_book: int | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def held(self, version: int | None, key: TermKey, *, counted: bool) -> KeptTerm | None:
        """The term kept at ``version``, if any (and counted, when ``counted``)."""
        kept = self.terms.held(version, key)
        if kept is None or (counted and not kept.counted):
            return None
        return kept

    def keep(
        self, version: int | None, top_book: int | None, terms: Iterable[tuple[TermKey, KeptTerm]]
    ) -> None:
        """Keep ``terms`` and ``top_book``, read at ``version`` (``KeptAtVersion.keep``)."""
        if not self.terms.moved_to(version):
            return
        self.top_book = top_book
        for key, kept in terms:
            self.terms.keep(version, key, kept)

    def clear(self) -> None:
        self.terms.clear()
        self.alongside.clear()
        self.postings.clear()
        self.surfaces.clear()
        self.top_book = None


_kept: KeptTerms | None = None


def kept_terms() -> KeptTerms:
    """This process's kept terms (``BOOKSTORE_KEPT_TERMS`` of them at most)."""
    global _kept
    if _kept is None:
        _kept = KeptTerms(get_settings().kept_terms)
    return _kept
