"""The "Did you mean" text of a search (``SearchResult.suggestion``).

Its own step because it answers another question than the page: not "which
books hold these words" but "what did the customer mean to type", for a
search whose words were corrected or that found nothing. Kept apart from
``suggest`` (the completions of ``/books/suggest``), which offers words as
they are typed, before any search.

``corrected_text`` is the text typed with its corrected words; ``text_beyond_typos``
the text with each word that found nothing replaced by the nearest word
beyond its typos (``words_beyond_typos``: the vocabulary's words past the
typo rule, a question only a search that found nothing asks, kept here
rather than beside the terms' lookup in ``vocabulary``). That second text
is only a candidate: the package's
``search_books`` searches it once more and offers it only if it finds a book,
a step of the pipeline that stays where the steps are chained.

A suggestion is a text to search, which a customer clicks: everything typed
but the words replaced stays as it was, quotes, ``-word`` and
``-"two words"`` (never corrected, so never changed), stop words, and the
trailing space that says the last word is complete (runs of spaces become
one). '"tolkein hobit" -dragon' suggests '"tolkien hobbit" -dragon'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from bookstore.catalog.search.typos import allowed_typos, never_corrected, typo_distance
from bookstore.catalog.search.vocabulary import ResolvedTerm, surface_words
from bookstore.catalog.search.words import ParsedQuery
from bookstore.database import DatabaseConnection, fetch
from bookstore.query_text import Sql
from bookstore.schemas import MAX_QUERY_TEXT

# Words looked up beyond their typos for one search, the first of the text;
# the others are kept as typed. Each costs a trigram KNN over the vocabulary,
# some 15 ms at a million books (106,504 words): 48 words of nonsense took
# 2.0 s on bench_1m (2026-11-30), which a text of 200 characters would ask.
BEYOND_TYPOS_TERMS = 4


async def corrected_text(
    db: DatabaseConnection,
    query: ParsedQuery,
    resolved: Sequence[ResolvedTerm],
    catalog_version: int | None,
    beyond: Mapping[str, str] | None = None,
) -> str | None:
    """The text typed (``query.text``) with its corrected words, when a word was
    corrected; else None.

    ``resolved``: one per term of ``query``, in
    its order. ``beyond``: for a search that found nothing, the words that
    found nothing replaced (their stem -> a word beyond their typos, as
    written: ``text_beyond_typos``). Without one or a correction there is no
    suggestion: the text typed would find what it found.
    A corrected word is shown as the catalog writes it ("dostoevsky"), not
    as the stem the vocabulary holds ("dostoevski"), in the case it was typed
    in ("Tolkein" -> "Tolkien").
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
    typed = query.text
    replaced = []
    for term, span in zip(resolved, query.spans, strict=True):
        shown = _shown(term, words, beyond)
        if shown is not None:
            replaced.append((span, _in_case_of(typed[span[0] : span[1]], shown)))
    return _rewritten(typed, replaced)


def _shown(term: ResolvedTerm, spelt: Mapping[str, str], beyond: Mapping[str, str]) -> str | None:
    """What stands for ``term`` in a suggestion: its correction as the catalog writes it
    (``spelt``), or the word beyond its typos standing for a word that found nothing;
    None when it is kept as typed."""
    if term.correction:
        return spelt.get(term.correction, term.correction)
    if not term.variants and term.lexeme:
        return beyond.get(term.lexeme)
    return None


def _in_case_of(typed: str, word: str) -> str:
    """``word`` (folded) in the case ``typed`` was typed in: "TOLKEIN" -> "TOLKIEN"."""
    if len(typed) > 1 and typed.isupper():
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _rewritten(typed: str, replaced: Sequence[tuple[tuple[int, int], str]]) -> str | None:
    """``typed`` with each span of ``replaced`` (in order) replaced by its word, its runs
    of spaces made one and a trailing one kept; None if that is the text typed or too
    long to be searched (``MAX_QUERY_TEXT``: a suggestion is clicked)."""
    parts = []
    after = 0
    for (start, end), word in replaced:
        parts += [typed[after:start], word]
        after = end
    parts.append(typed[after:])
    text = "".join(parts)
    ending = " " if text[-1:].isspace() else ""
    suggestion = " ".join(text.split()) + ending
    if suggestion == " ".join(typed.split()) + ending or len(suggestion.strip()) > MAX_QUERY_TEXT:
        return None
    return suggestion


# A word beyond its typos (``words_beyond_typos``) is suggested only from
# this pg_trgm similarity up (shared trigrams over all trigrams of the two).
# On the demo catalog (2026-11-30), of 681 hopeless misspellings of its title
# words (two random edits, three from 9 letters; three draws), 0.45 suggested
# the right word for 127 to 142 and a wrong one for 8 to 14, 0.4 for some 200
# and 19 to 30, 0.5 for 100 to 120 and 6 to 14; 6 of 41 common words absent
# from the catalog were offered a word ("window" -> "wind"), 8 at 0.4. And a
# stem of 4 letters with one letter changed is 3/7 (0.43): "kindness" is
# "kind", never "king", as its typos already rule ("typos.within_typos").
FARTHER_SIMILARITY = 0.45
# The nearest words by trigrams read per word, in the GiST index's order of
# distance alone (a second sort key loses the index's order: the whole
# vocabulary would be read); of them the most similar, then the one in the
# most books.
FARTHER_WORDS = 5
# A word whose stem has this many letters or more, that no near word is
# similar enough to by trigrams, is offered the nearest of them in edits
# when it is one typo beyond the word's budget and at most a third of its
# letters: "tolkeinn" (a swap and a letter doubled, similarity 0.31) ->
# "tolkien". Of 903 hopeless misspellings of the demo catalog's title and
# author words (2026-11-30, two draws), the similarity alone offered the
# right word for 34-41 and a wrong one for 7-16; with this rule 270-288 and
# 19-26. Shorter stems are left to the similarity: from 5 letters the rule
# offered 19 of 46 common words absent from the catalog another word
# ("mother" -> "brother") against 5, from 7 letters 9 ("monster" ->
# "master"); and a stem of 4, "sick" of "sickness", would become "dick",
# which the typo rule refuses (``typos.within_typos``).
FARTHER_EDITS_FROM = 7

_BEYOND_TYPOS = f"""
SELECT t.lexeme, near.word, near.books, similarity(near.word, t.lexeme) AS similarity
FROM unnest({{}}::text[]) AS t (lexeme)
CROSS JOIN LATERAL (
    SELECT w.word, w.books FROM search_words w WHERE w.books > 0
    ORDER BY w.word <-> t.lexeme LIMIT {FARTHER_WORDS}
) AS near
"""


def _nearest_beyond_typos(typed: str, lexeme: str, near: Sequence[Any]) -> str | None:
    """The word of ``near`` (the nearest by trigrams) offered for ``typed``, if any."""
    similar = [row for row in near if row["similarity"] >= FARTHER_SIMILARITY]
    if similar:
        best = min(similar, key=lambda row: (-row["similarity"], -row["books"], row["word"]))
        return str(best["word"])
    if len(lexeme) < FARTHER_EDITS_FROM:
        return None
    budget = min(allowed_typos(typed) + 1, len(lexeme) // 3)
    within = [
        (distance, -row["books"], row["word"])
        for row in near
        if (distance := typo_distance(lexeme, row["word"], budget)) <= budget
    ]
    return str(min(within)[2]) if within else None


async def words_beyond_typos(
    db: DatabaseConnection, typed: Mapping[str, str], known_version: int | None
) -> dict[str, str]:
    """For each stem that found nothing (``typed``: stem -> the word as typed), the
    nearest word of the vocabulary beyond its typos, as the catalog writes it
    ("hobbbbbit" -> "hobbit"); a stem with none near enough is absent.

    Asked only when a search found no book at all: a customer who typed
    "hobbbbbit" (three typos in nine letters) and got nothing is better
    served by "Did you mean: hobbit?" than by an empty page, while a word
    within its typos already found its books. Not kept (``kept_terms``):
    the path is rare, and its suggestion is checked by one more search anyway.
    One statement for the stems' nearest words, and one to spell out those
    chosen that are not kept already (``surface_words``).
    """
    near: defaultdict[str, list[Any]] = defaultdict(list)
    for row in await fetch(db, Sql(_BEYOND_TYPOS, list(typed))):
        near[row["lexeme"]].append(row)
    chosen: dict[str, str] = {}
    for lexeme, rows in near.items():
        if (word := _nearest_beyond_typos(typed[lexeme], lexeme, rows)) is not None:
            chosen[lexeme] = word
    spelt = await surface_words(db, sorted(set(chosen.values())), known_version=known_version)
    return {lexeme: spelt[word] for lexeme, word in chosen.items() if word in spelt}


async def text_beyond_typos(
    db: DatabaseConnection,
    query: ParsedQuery,
    resolved: Sequence[ResolvedTerm],
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
        # A number is kept as typed: the nearest number is another book's.
        kept = never_corrected(term.term.folded)
        if not term.variants and term.lexeme and not kept and len(lost) < BEYOND_TYPOS_TERMS:
            lost.setdefault(term.lexeme, term.term.folded)
    if not lost:
        return None
    beyond = await words_beyond_typos(db, lost, catalog_version)
    if not beyond:
        return None
    return await corrected_text(db, query, resolved, catalog_version, beyond)
