"""Step 4: a book's relevance to the query, computed from its row of ``book_search``.

Each term scores by the best field that holds one of its words: title 16,
author 8, category 4, description 2; one less when only a corrected or
completed word matched there. A book's score is the sum over the terms;
ties go to the lower id, so pages are stable. The score is written into the
statement as SQL over the row's word arrays: reading it costs no lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from piccolo.querystring import QueryString

from bookstore.catalog.search.vocabulary import ResolvedTerm
from bookstore.query_text import Sql

# book_search's field columns, best first, with their weights; the index of
# a field is its number in search_postings.field.
FIELDS = ("title", "author", "categories", "description")
WEIGHTS = (16, 8, 4, 2)
INEXACT_PENALTY = 1
# Higher than any score: "after" this is the first page.
TOP_SCORE = 10_000


@functools.cache
def _field_weight_text(row: str, known: tuple[str, ...] | None = None) -> str:
    """``CASE WHEN {row}.title && {}::text[] THEN 16 ... ELSE 0 END``, written once per alias.

    ``known``: per field, a condition that already tells the field holds one
    of the words, asked before the overlap (``levels``: what a walk's own
    postings say of the row).
    """
    cases = " ".join(
        f"WHEN {condition} OR {row}.{field} && {{}}::text[] THEN {weight}"
        if condition
        else f"WHEN {row}.{field} && {{}}::text[] THEN {weight}"
        for field, weight, condition in zip(
            FIELDS, WEIGHTS, known or ("",) * len(FIELDS), strict=True
        )
    )
    return f"CASE {cases} ELSE 0 END"


@functools.cache
def _held_score_text(row: str, exact: bool, inexact: bool) -> str:
    """``term_score``'s ``CASE``: each (field, kind of word) in order of its weight.

    ``exact``, ``inexact``: whether the term has words of that kind; each
    ``{}`` is the list of its kind, ``exact``'s first in a field. The last
    test is left out and is the ``ELSE``: the row holds a word of the term.
    """
    tests = [
        (f"{row}.{field} && {{}}::text[]", weight - penalty)
        for field, weight in zip(FIELDS, WEIGHTS, strict=True)
        for kind, penalty in ((exact, 0), (inexact, INEXACT_PENALTY))
        if kind
    ]
    *asked, (_, last) = tests
    cases = " ".join(f"WHEN {test} THEN {weight}" for test, weight in asked)
    return f"CASE {cases} ELSE {last} END"


def term_score(row: str, term: ResolvedTerm) -> QueryString:
    """The term's weight in ``row``, a row of book_search known to hold one of its words.

    The best field holding one of its words, one less when only inexact
    words are there: the value of ``GREATEST`` of the exact words' ``CASE``
    and the inexact words' less one, asked in order of weight (title exact
    16, title inexact 15, author exact 8...) so that the first test that
    holds is the score. The last test, the description's inexact words (or
    exact ones, for a term of one kind), is not asked: the row holds a word
    of the term (every statement scoring it has the term among its
    conditions, or reads the row from the postings of its words), and
    ``book_search.words`` is the union of the four fields, so when no other
    field holds one the description does. That test was the dearest: the
    description is the longest field (12 words on average at 1M books, up
    to 20; the others 3), and met with a prefix's twenty completions it is
    some 240 comparisons of text, asked of every row whose prefix is found
    in its description only.
    """
    exact, inexact = term.exact, term.inexact
    # One list per kind, sent once (``query_text.compile_postgres``): a new
    # list per call, never shared with another term or call, so that the
    # statement's text depends on the kinds of words of each term only.
    return score_of_kinds(row, list(exact) if exact else None, list(inexact) if inexact else None)


def score_of_kinds(row: str, exact: object | None, inexact: object | None) -> QueryString:
    """``term_score`` of a term's words of each kind, None for a kind it has none of.

    Each kind a list, or a placeholder's ``QueryString`` when the text is
    compiled for its shape alone (``candidates._gin_text``).
    """
    if exact is None and inexact is None:
        return Sql("0")
    lists = [words for _ in FIELDS for words in (exact, inexact) if words is not None]
    # The last list fills no test: it is the ``ELSE``.
    return Sql(_held_score_text(row, exact is not None, inexact is not None), *lists[:-1])


def score_of_arrays(
    row: str,
    exact: object,
    inexact: object,
    known: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> QueryString:
    """``term_score`` written the same way for any term: both arrays, either may be empty.

    For statements whose text must not depend on which kinds of words a
    term has (``levels``): an empty array overlaps nothing. ``exact`` and
    ``inexact``: the term's words of each kind, each a list (sent once
    however often it is written), or a placeholder's ``QueryString`` when
    the text is compiled for its shape alone. ``known``: the conditions per
    field that tell without the overlap, for the exact words and for the
    inexact ones (``_field_weight_text``).
    """
    return Sql(
        _score_of_arrays_text(row, known), *([exact] * len(FIELDS)), *([inexact] * len(FIELDS))
    )


@functools.cache
def _score_of_arrays_text(
    row: str, known: tuple[tuple[str, ...], tuple[str, ...]] | None = None
) -> str:
    """``score_of_arrays``'s text: one template where three were made per search."""
    exact_known, inexact_known = known or (None, None)
    exact = _field_weight_text(row, exact_known)
    inexact = _field_weight_text(row, inexact_known)
    return f"GREATEST({exact}, {inexact} - {INEXACT_PENALTY})"


def score(row: str, terms: Sequence[ResolvedTerm]) -> QueryString:
    """The relevance of ``row`` (an alias of book_search) to all of ``terms``.

    ``row`` holds a word of every term (``term_score``).
    """
    return added([term_score(row, t) for t in terms])


def added(scores: Sequence[QueryString]) -> QueryString:
    """The sum of ``scores``, the terms' scores of a row (``score``)."""
    return Sql(" + ".join("{}" for _ in scores), *scores)


def walk_start(variant_inexact: bool, after_score: int, after_id: int) -> tuple[int, int]:
    """Where one word's postings, in (field, book_id) order, pass the cursor.

    A word's books are listed best field first; with the cursor at
    (``after_score``, ``after_id``), the walk resumes at the first (field,
    book_id) whose score for this word is lower, or equal with a higher id.
    """
    penalty = INEXACT_PENALTY if variant_inexact else 0
    for field, weight in enumerate(WEIGHTS):
        if weight - penalty == after_score:
            return field, after_id
        if weight - penalty < after_score:
            return field - 1, 2_147_483_647
    return len(WEIGHTS) - 1, 2_147_483_647
