"""The statement that reads a page by the plan ``plans`` chose: one GIN scan, the
terms its keys: of ``book_search_words_idx`` without a category, of
``book_search_category_words_idx`` (each term qualified by a category set) with one.

It is apart from the choice, which needs no database: ``plans`` prices
the ways from counts alone, and its prices were fitted on the server's CPU
time of these statements (a statement changed is a price to measure again).

A category used to be met with the postings of its rarest term as well
(``page_of_meeting``); it was removed in session 27 (2026-11-30), since
``plans.plan_in_category`` priced the GIN scan below it for every term
that has a book (docs/performance-journal.md keeps its measurements). The
scan of ``book_search_words_idx`` with the category sets among its keys was
removed in session 29: no plan took it since session 28, when
``plan_in_category`` came to qualify the terms by the category instead.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import replace

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.pages import (
    Match,
    Relevance,
    best_of_rows,
    best_of_rows_after,
    document_matches,
    filter_conditions,
    holds_one_of,
    terms_match,
    tsquery_of,
)
from bookstore.catalog.search.plans import GinKeys
from bookstore.catalog.search.vocabulary import ResolvedTerm
from bookstore.query_text import Compiled, Sql, compile_postgres


def told_by_document(row: str, words: Sequence[str]) -> QueryString:
    """``row`` (an alias of book_search) holds one of ``words``: its ``document`` matches
    the ``tsquery`` of the words, each quoted, joined by ``|``.

    The same value as ``words && {}::text[]`` (the lexemes of ``document``
    are the elements of ``words``: both are written from the same four
    fields' tsvectors, ``search_index_books`` and ``search_rebuild``; all
    1,000,000 rows of bench_1m agree), but each word is a binary search of
    the row's sorted lexemes, where the overlap compares every word with
    every element: a prefix's twenty completions told by rows of some
    twenty words, 400 comparisons a row ("trapas ro", 339 rows at 5.7 us;
    the GIN pages of q_prefix that tell a term x0.64 of their PostgreSQL CPU
    on PG15, x0.73 on PG18, 2026-11-30).
    Not an index condition: ``document`` has no index, as a told term must.
    """
    return document_matches(row, tsquery_of(words))


def in_category_sets(row: str, category_ids: object) -> QueryString:
    """``row`` (an alias of book_search) is in one of ``category_ids`` (a list or a
    placeholder's ``QueryString``), told by the row through ``arrayoverlap``, the
    function of ``&&``, which the planner does not take for an index condition: the
    scan's keys are the terms."""
    return Sql(f"arrayoverlap({row}.category_ids, {{}}::integer[])", category_ids)


def holds_one_of_in_categories(row: str, qualified: object) -> QueryString:
    """``row`` (an alias of book_search) holds a word in a category of ``qualified``
    (``qualified_words``, or a placeholder's ``QueryString``): a key of
    ``book_search_category_words_idx``, the GIN index of each book's words qualified by
    its categories (migration ``2026-11-30T15:30``)."""
    return Sql(
        f"search_category_words({row}.words, {row}.category_ids) && {{}}::text[]", qualified
    )


def qualified_words(category_ids: Sequence[int], words: Sequence[str]) -> list[str]:
    """Each of ``words`` in each of ``category_ids``, as ``search_category_words`` writes
    them: ``3:map``."""
    return [f"{category_id}:{word}" for category_id in category_ids for word in words]


def page_of_gin(
    match: Match,
    criteria: Criteria,
    after: Relevance,
    limit: int,
    keys: GinKeys | None = None,
    qualified_by: list[int] | None = None,
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after``, found by one GIN scan.

    ``keys`` (``plans.gin_keys``, ``plans.qualified_keys``): how many of the
    terms, rarest first, are keys of the scan; the others are told by the
    row's ``document`` (``told_by_document``). Without ``keys``, every term
    is a key, in the order typed.

    Without ``qualified_by`` (a search without a category, ``plans.gin_first``)
    the keys are the terms' words in ``book_search_words_idx``. ``qualified_by``:
    one of the criteria's category sets (``plans.plan_in_category`` takes the
    one of fewest books). The keys are then of
    ``book_search_category_words_idx``, each its words in that set's
    categories (``qualified_words``): a key holds the books of the term in
    the set, so the set needs no key of its own. The other sets, and what is
    left of the filters, are checked in the rows.
    """
    # Not ``dataclasses.replace`` where it is not needed: it copies field by field
    # in Python (about 120 bytecodes a call, twice a GIN page).
    rest = replace(criteria, category_sets=()) if criteria.category_sets else criteria
    terms = match.terms
    if keys is not None:
        terms = tuple(sorted(match.terms, key=lambda term: term.books))
    keyed = terms if keys is None else terms[: keys.terms]
    told = terms[len(keyed) :]
    sets = tuple(ids for ids in criteria.category_sets if ids is not qualified_by)
    if not filter_conditions("s", match, rest):
        return _page_of_gin_by_shape(match, sets, keyed, told, after, limit, qualified_by)
    return _page_of_gin_tree(match, rest, after, limit, keyed, told, sets, qualified_by)


def _page_of_gin_tree(
    match: Match,
    rest: Criteria,
    after: Relevance,
    limit: int,
    keyed: Sequence[ResolvedTerm],
    told: Sequence[ResolvedTerm],
    category_sets: Sequence[list[int]],
    qualified_by: list[int] | None,
) -> QueryString:
    """``page_of_gin``'s statement as a tree; ``rest``: the criteria without their
    category sets, ``category_sets``: those not qualifying the keys."""
    score = ranking.score("s", match.terms)
    if qualified_by is None:
        key_conditions = terms_match("s.words", keyed)
    else:
        key_conditions = [
            holds_one_of_in_categories("s", qualified_words(qualified_by, term.words))
            for term in keyed
        ]
    conditions = [
        *key_conditions,
        *filter_conditions("s", match, rest),
        *(in_category_sets("s", category_ids) for category_ids in category_sets),
        *(told_by_document("s", term.words) for term in told),
    ]
    return best_of_rows(score, conditions, after, limit)


def _page_of_gin_by_shape(
    match: Match,
    category_sets: Sequence[list[int]],
    keyed: Sequence[ResolvedTerm],
    told: Sequence[ResolvedTerm],
    after: Relevance,
    limit: int,
    qualified_by: list[int] | None,
) -> QueryString:
    """``page_of_gin`` with no filter but categories: its text kept per shape, its
    arguments computed.

    The text depends on the page's size, the kinds of words of each term
    (``ranking.term_score``'s ``CASE``), how many terms are keys, whether
    they are qualified by categories, how many are told by the rows, and how
    many other category sets there are, not on the words or the categories
    (``_gin_text``). Building and compiling the tree took some 2,000
    bytecodes of a GIN page's worker CPU (2026-11-30); with a category, its
    conditions and the score's ``CASE`` were compiled for every request
    until session 28.
    """
    values: list[object] = []
    for term in match.terms:
        if term.exact:
            values.append(list(term.exact))
        if term.inexact:
            values.append(list(term.inexact))
    if qualified_by is None:
        values += [list(term.words) for term in keyed]
    else:
        values += [qualified_words(qualified_by, term.words) for term in keyed]
    values += [list(category_ids) for category_ids in category_sets]
    values += [tsquery_of(term.words) for term in told]
    values += [after.score, after.score, after.id]
    kinds = tuple((bool(term.exact), bool(term.inexact)) for term in match.terms)
    qualified = qualified_by is not None
    text = _gin_text(limit, kinds, len(keyed), qualified, len(category_sets), len(told))
    return Compiled(text, values)


@functools.lru_cache(maxsize=256)
def _gin_text(
    limit: int,
    kinds: tuple[tuple[bool, bool], ...],
    keys: int,
    qualified: bool,
    category_sets: int,
    told: int,
) -> str:
    """The text of a GIN page with no filter but categories, compiled once per shape.

    ``kinds``: whether each term has exact and inexact words; ``keys``,
    ``told``: how many terms are keys of the scan and told by the rows;
    ``qualified``: whether the keys are words qualified by categories
    (``holds_one_of_in_categories``); ``category_sets``: how many (other)
    sets of categories a book must meet, told by the rows (``arrayoverlap``). Built
    from the helpers ``page_of_gin`` builds a tree with (the terms' scores,
    the keys' overlaps, the categories, the told terms' ``tsquery``, the
    rows and the cursor of ``pages.best_of_rows``), its values written as
    placeholders numbered in the order ``_page_of_gin_by_shape`` sends them:
    each term's exact and inexact words (each list once), each key's words,
    each category set, each told term's ``tsquery``, the cursor: the text
    of that tree.
    """
    placeholders = (Sql(f"${n}") for n in itertools.count(1))
    score = ranking.added(
        [
            ranking.score_of_kinds(
                "s",
                next(placeholders) if exact else None,
                next(placeholders) if inexact else None,
            )
            for exact, inexact in kinds
        ]
    )
    key = (
        holds_one_of_in_categories
        if qualified
        else lambda row, words: holds_one_of(f"{row}.words", words)
    )
    conditions = [key("s", next(placeholders)) for _ in range(keys)]
    conditions += [in_category_sets("s", next(placeholders)) for _ in range(category_sets)]
    conditions += [document_matches("s", next(placeholders)) for _ in range(told)]
    cursor = (next(placeholders), next(placeholders), next(placeholders))
    text, args = compile_postgres(best_of_rows_after(score, conditions, cursor, limit))
    if args:
        raise RuntimeError(f"a value of the GIN page is not a placeholder: {args}")
    return text
