"""The statement that reads a page by the plan ``plans`` chose: one GIN scan of
``book_search_words_idx``, the terms (and the category sets) its keys.

It is apart from the choice, which needs no database: ``plans`` prices
the ways from counts alone, and its prices were fitted on the server's CPU
time of these statements (a statement changed is a price to measure again).

A category used to be met with the postings of its rarest term as well
(``page_of_meeting``); it was removed in session 27 (2026-11-30), since
``plans.plan_in_category`` priced the GIN scan below it for every term
that has a book (docs/performance-journal.md keeps its measurements).
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
    match_conditions,
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


def page_of_gin(
    match: Match, criteria: Criteria, after: Relevance, limit: int, keys: GinKeys | None = None
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after``, found by one GIN scan.

    Every term and every category set is a key of the same scan of
    ``book_search_words_idx (words, category_ids)``: one bitmap index scan
    whose keys skip past each other, not a BitmapAnd that would read the
    category whole. What is left of the filters is checked in the rows.
    ``keys`` (``plans.gin_keys``): the terms and whether the category sets are
    keys, the rest told by the rows: a category set through
    ``arrayoverlap``, the function of ``&&``, which the planner does not take
    for an index condition, a term through the row's ``document``
    (``told_by_document``); without, every term and set is a key.
    """
    # Not ``dataclasses.replace`` where it is not needed: it copies field by field
    # in Python (about 120 bytecodes a call, twice a GIN page).
    rest = replace(criteria, category_sets=()) if criteria.category_sets else criteria
    terms = match.terms
    keyed_category = True
    if keys is not None:
        terms = tuple(sorted(match.terms, key=lambda term: term.books))
        keyed_category = keys.category
    keyed = terms if keys is None else terms[: keys.terms]
    if not criteria.category_sets and not filter_conditions("s", match, rest):
        return _unfiltered_page_of_gin(match, rest, keyed, terms[len(keyed) :], after, limit)
    return _page_of_gin_tree(match, criteria, rest, after, limit, terms, keyed, keyed_category)


def _page_of_gin_tree(
    match: Match,
    criteria: Criteria,
    rest: Criteria,
    after: Relevance,
    limit: int,
    terms: Sequence[ResolvedTerm],
    keyed: Sequence[ResolvedTerm],
    keyed_category: bool,
) -> QueryString:
    """``page_of_gin``'s statement as a tree: ``terms`` in the keys' order, ``keyed`` first;
    ``rest``: ``criteria`` without its category sets."""
    score = ranking.score("s", match.terms)
    categories = [
        Sql(
            "s.category_ids && {}::integer[]"
            if keyed_category
            else "arrayoverlap(s.category_ids, {}::integer[])",
            category_ids,
        )
        for category_ids in criteria.category_sets
    ]
    told = [told_by_document("s", term.words) for term in terms[len(keyed) :]]
    conditions = [
        *match_conditions("s", Match(tuple(keyed), match.phrases, match.excluded), rest),
        *categories,
        *told,
    ]
    return best_of_rows(score, conditions, after, limit)


def _unfiltered_page_of_gin(
    match: Match,
    rest: Criteria,
    keyed: Sequence[ResolvedTerm],
    told: Sequence[ResolvedTerm],
    after: Relevance,
    limit: int,
) -> QueryString:
    """``page_of_gin`` without filters: its text kept per shape, its arguments computed.

    The text depends on the page's size, the kinds of words of each term
    (``ranking.term_score``'s ``CASE``) and how many terms are keys, not on
    the words (``_unfiltered_gin_text``). Building and compiling the tree
    took some 2,000 bytecodes of a GIN page's worker CPU (2026-11-30).
    """
    values: list[object] = []
    for term in match.terms:
        if term.exact:
            values.append(list(term.exact))
        if term.inexact:
            values.append(list(term.inexact))
    values += [list(term.words) for term in keyed]
    values += [tsquery_of(term.words) for term in told]
    values += [after.score, after.score, after.id]
    kinds = tuple((bool(term.exact), bool(term.inexact)) for term in match.terms)
    return Compiled(_unfiltered_gin_text(limit, kinds, len(keyed), len(told)), values)


@functools.lru_cache(maxsize=256)
def _unfiltered_gin_text(
    limit: int, kinds: tuple[tuple[bool, bool], ...], keys: int, told: int
) -> str:
    """The text of an unfiltered GIN page, compiled once per shape.

    ``kinds``: whether each term has exact and inexact words; ``keys``,
    ``told``: how many terms are keys of the scan and told by the rows.
    Built from the helpers ``_page_of_gin_tree`` builds a page with (the
    terms' scores, the keys' overlaps, the told terms' ``tsquery``, the
    rows and the cursor of ``pages.best_of_rows``), its values written as
    placeholders numbered in the order ``_unfiltered_page_of_gin`` sends
    them: each term's exact and inexact words (each list once), each key's
    words, each told term's ``tsquery``, the cursor.
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
    conditions = [holds_one_of("s.words", next(placeholders)) for _ in range(keys)]
    conditions += [document_matches("s", next(placeholders)) for _ in range(told)]
    cursor = (next(placeholders), next(placeholders), next(placeholders))
    text, args = compile_postgres(best_of_rows_after(score, conditions, cursor, limit))
    if args:
        raise RuntimeError(f"a value of the unfiltered GIN page is not a placeholder: {args}")
    return text
