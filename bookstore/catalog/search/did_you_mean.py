"""The "Did you mean" text of a search (``SearchResult.suggestion``).

Its own step because it answers another question than the page: not "which
books hold these words" but "what did the customer mean to type", for a
search whose words were corrected or that found nothing. Kept apart from
``suggest`` (the completions of ``/books/suggest``), which offers words as
they are typed, before any search.

``corrected_text`` is the query with its corrected words; ``text_beyond_typos``
the query with each word that found nothing replaced by the nearest word
beyond its typos. That second text is only a candidate: the package's
``search_books`` searches it once more and offers it only if it finds a book,
a step of the pipeline that stays where the steps are chained.
"""

from __future__ import annotations

from collections.abc import Mapping

from bookstore.catalog.search.vocabulary import ResolvedTerm, surface_words, words_beyond_typos
from bookstore.catalog.search.words import ParsedQuery
from bookstore.database import DatabaseConnection

# Words looked up beyond their typos for one search, the first of the text;
# the others are kept as typed. Each costs a trigram KNN over the vocabulary,
# some 15 ms at a million books (106,504 words): 48 words of nonsense took
# 2.0 s on bench_1m (2026-11-30), which a text of 200 characters would ask.
BEYOND_TYPOS_TERMS = 4


async def corrected_text(
    db: DatabaseConnection,
    query: ParsedQuery,
    resolved: list[ResolvedTerm],
    catalog_version: int | None,
    beyond: Mapping[str, str] | None = None,
) -> str | None:
    """The query with its corrected words, when a word was corrected; else None.

    ``beyond``: for a search that found nothing, the words that found
    nothing replaced (their stem -> a word beyond their typos, as written:
    ``text_beyond_typos``). Without one or a correction there is no
    suggestion: the text typed less its stop words ("zzzzzz" for "the
    zzzzzz") would find nothing either.
    A corrected word is shown as the catalog writes it ("dostoevsky"), not
    as the stem the vocabulary holds ("dostoevski").
    """
    beyond = beyond or {}
    if not any(term.correction for term in resolved) and not beyond:
        return None
    # The lookup spelt out the words one edit away; the others are asked here.
    words = {
        term.correction: term.surface for term in resolved if term.correction and term.surface
    }
    unknown = [term.correction for term in resolved if term.correction and not term.surface]
    if unknown:
        words.update(await surface_words(db, unknown, known_version=catalog_version))
    suggestion = " ".join(_shown(term, words, beyond) for term in resolved)
    if not suggestion or suggestion == " ".join(term.folded for term in query.terms):
        return None
    return suggestion


def _shown(term: ResolvedTerm, spelt: Mapping[str, str], beyond: Mapping[str, str]) -> str:
    """How ``term`` reads in a suggestion: its correction as the catalog writes it
    (``spelt``), the word beyond its typos standing for a word that found nothing,
    else the word as typed, folded."""
    if term.correction:
        return spelt.get(term.correction, term.correction)
    if not term.variants:
        return beyond.get(term.lexeme or "", term.term.folded)
    return term.term.folded


async def text_beyond_typos(
    db: DatabaseConnection,
    query: ParsedQuery,
    resolved: list[ResolvedTerm],
    catalog_version: int | None,
) -> str | None:
    """The text with each word that found nothing replaced by the nearest word
    beyond its typos (and any corrected word), when one is near enough; else None.

    "hobbbbbit" (three typos in nine letters) gives "hobbit". Asked only for
    a first page with no book at all, so that a search that found something
    sends no more statements; and unchecked: a word near enough may still
    find nothing (under an author's filter), which only the search can tell.
    """
    lost: dict[str, str] = {}
    for term in resolved:
        if not term.variants and term.lexeme and len(lost) < BEYOND_TYPOS_TERMS:
            lost.setdefault(term.lexeme, term.term.folded)
    if not lost:
        return None
    beyond = await words_beyond_typos(db, lost, catalog_version)
    if not beyond:
        return None
    return await corrected_text(db, query, resolved, catalog_version, beyond)
