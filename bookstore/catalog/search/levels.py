"""Several terms, best first, reading index entries in order: the page by score level.

A book's score is the sum, over the terms, of the weight of the best field
holding one of the term's words (title 16, author 8, category 4,
description 2, one less for a corrected or completed word). And
``search_postings`` holds each word of a book once, at its best field. So
the books scoring a given sum are those found in a *combination* of
levels, one per term (``ash volume``: ash in the title and volume in the
title, 32; ash in the title and volume in a description, 18; ...), and the
books of one combination are found by walking the terms' postings at those
levels, each an index range already in id order.

One statement reads the combinations best score first: each score's group
is the lowest ids found by its combinations' walks, and the groups are read
one after the other until the page is full. The walks of a group run one
after the other, and once the group holds the books the page still needs,
each later walk stops at the highest of them ("last ra": six completions
of "ra" in titles, each merged with the 100,072 titles holding "last",
read the run of "last" six times to its 21st book in both; bounded, the
later five stop where the page already is). A frequent pair (``volume``:
300,000 books, ``ash``: 64,000) costs the index entries up to its 21st book
held in both titles, not its 19,000 matches. What it reads in the worst
case is the postings of the combinations it has to go through: two words
seldom in the same book are read to the end of the shorter's postings at
each level (the GIN path would then read their few matches; the level path
reads index entries, not rows).

Two runs of comparable length are merge joined; a run 25 times longer than
the one it meets is probed instead, once per posting of the shorter (a
merge join reads both runs to the end of the shorter's ids, which span the
catalog: all 300,344 titles holding "volume" to find the 565 holding
"kodrar").


A term of several words (a corrected word's candidates, a prefix's
completions) is the union of its words' postings at a level; a book is
counted at a level only when none of the term's words is at a better one.

This module plans the walks (which level of each combination is walked, met
with which run, and whether the book's row must confirm it); ``level_walk``
writes the statement that runs them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import product
from math import prod
from typing import NamedTuple

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.kept_terms import kept_terms
from bookstore.catalog.search.level_walk import (
    SIGNATURE_BITS,
    WORD_SLOTS,
    Branch,
    known_key,
    page_by_levels,
)
from bookstore.catalog.search.pages import Match, Relevance
from bookstore.catalog.search.vocabulary import RUN_SIZE, ResolvedTerm
from bookstore.database import DatabaseConnection, fetch
from bookstore.query_text import Sql

# More walks than this (five terms each in three fields, a prefix's 20
# completions in many combinations...) and the page is taken from the GIN
# index instead: each score's group runs all its walks.
MAX_BRANCHES = 256
# Combinations enumerated at most (the product of the terms' levels).
MAX_COMBINATIONS = 1_024
# The terms a bigint signature holds (``SIGNATURE_BITS`` each); more and the
# page is taken from the GIN index.
MAX_TERMS = 64 // SIGNATURE_BITS


_POSTINGS_PER_FIELD = f"""
SELECT v.word, ARRAY(
    SELECT {RUN_SIZE.format(word="v.word", field="f.field", last_book="top.id")}
    FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS f (field) ORDER BY f.field
) AS postings, top.version AS lookup_version
FROM unnest({{}}::text[]) AS v (word),
     (SELECT max(book_id) AS id, (SELECT version FROM catalog_version) AS version
      FROM book_search) AS top
"""


class Level(NamedTuple):
    """Where a term's words sit in the books at one weight: (word, field) pairs.

    A named tuple: a search makes one per weight of each term (up to eight
    for a prefix's completions), and a frozen dataclass costs three times as
    much to make.
    """

    weight: int
    pairs: tuple[tuple[str, int], ...]
    better: tuple[tuple[str, int], ...]  # the term's pairs of higher weight
    postings: int  # about how many: the length of the run walked if it drives
    term: ResolvedTerm
    runs: tuple[int, ...] = ()  # each pair's postings, about

    @property
    def several_words(self) -> bool:
        """Whether its pairs and the better ones hold more than one word (asked per
        combination: the first word unlike the first answers)."""
        pairs = (*self.pairs, *self.better)
        return bool(pairs) and any(word != pairs[0][0] for word, _ in pairs)


async def postings_per_field(
    db: DatabaseConnection, terms: Sequence[ResolvedTerm], *, known_version: int | None = None
) -> dict[str, list[int]]:
    """For each word of ``terms``, its postings in each field (0: none), about.

    Counted by the term lookup (``Variant.postings``), or here for the words
    it did not count: up to COUNTED by reading the index, a longer run
    estimated from where its 201st posting stands (``vocabulary.RUN_SIZE``),
    at most the word's number of books. The words counted here (a long
    word's correction found among its trigram neighbours) are kept at the
    version read with them (``kept_terms``) and, at ``known_version``, not
    counted again.
    """
    books = {v.word: v.books for term in terms for v in term.variants}
    counted = {
        v.word: list(v.postings) for term in terms for v in term.variants if v.postings is not None
    }
    kept = kept_terms().postings
    for word, postings in kept.held_all(known_version, set(books) - set(counted)).items():
        counted[word] = list(postings)
    missing = sorted(set(books) - set(counted))
    if missing:
        for row in await fetch(db, Sql(_POSTINGS_PER_FIELD, missing)):
            counted[row["word"]] = list(row["postings"])
            kept.keep(row["lookup_version"], row["word"], tuple(row["postings"]))
    return {
        word: [min(count, books[word]) for count in postings] for word, postings in counted.items()
    }


def levels_of(term: ResolvedTerm, postings: dict[str, list[int]]) -> list[Level]:
    """The term's levels, best first, from the fields its words are found in.

    A prefix with postings of its own (``ResolvedTerm.starred``) has one
    pair at each inexact level its completions reach, its own word's: the
    union of the completions' runs in that field, read as one run. Its
    postings in a field are the books whose best field among its words is
    that one: each holds a completion there (its weight) or the exact word
    (a better level, in the pairs of ``better``: the row confirms the level,
    as ``several_words`` tells).
    """
    by_weight: dict[int, list[tuple[str, int]]] = defaultdict(list)
    runs: dict[int, list[int]] = defaultdict(list)
    for word, inexact, counts in _walked_words(term, postings):
        penalty = ranking.INEXACT_PENALTY if inexact else 0
        for field, count in enumerate(counts):
            if count:
                weight = ranking.WEIGHTS[field] - penalty
                by_weight[weight].append((word, field))
                runs[weight].append(count)
    levels = []
    better: list[tuple[str, int]] = []
    for weight in sorted(by_weight, reverse=True):
        levels.append(
            Level(
                weight,
                tuple(by_weight[weight]),
                tuple(better),
                sum(runs[weight]),
                term,
                tuple(runs[weight]),
            )
        )
        better.extend(by_weight[weight])
    return levels


def _walked_words(
    term: ResolvedTerm, postings: dict[str, list[int]]
) -> list[tuple[str, bool, Sequence[int]]]:
    """The term's words as ``levels_of`` walks them: (word, inexact, postings per field).

    Its variants; for a prefix with postings of its own, its exact words and
    the prefix's own word in place of its completions, counted in the fields
    the completions reach (``vocabulary._starred`` gives ``starred`` only
    with its postings counted).
    """
    none = [0] * len(ranking.WEIGHTS)
    starred = term.starred
    if starred is None:
        return [(v.word, v.inexact, postings.get(v.word, none)) for v in term.variants]
    reached = {
        field
        for v in term.variants
        if v.inexact
        for field, count in enumerate(postings.get(v.word, none))
        if count
    }
    own = [count if field in reached else 0 for field, count in enumerate(starred.postings or ())]
    exact = [(v.word, False, postings.get(v.word, none)) for v in term.variants if not v.inexact]
    return [*exact, (starred.word, True, own)]


def kept_levels(terms: Sequence[ResolvedTerm]) -> list[Sequence[Level]] | None:
    """Each term's levels from its own words' postings, computed once per term; or None.

    When every word came counted from the lookup (``Variant.postings``) and
    no word stands for two of the terms, ``postings_per_field`` gives each
    word the postings its own variant holds, and a term's levels depend on
    the term alone: they are kept with it (``ResolvedTerm.planned_levels``),
    and a term kept per catalog version (``kept_terms``) is planned once, not
    per request (``levels_of`` was some 10% of a q_prefix request's
    planning, 2026-11-30). Else (a word counted by ``postings_per_field``, or shared:
    "cehair ce") None, and the caller counts and plans as before.
    """
    words = [word for term in terms for word in term.words]
    if len(set(words)) != len(words):
        return None
    levels: list[Sequence[Level]] = []
    for term in terms:
        planned = term.planned_levels
        if not planned:
            if any(variant.postings is None for variant in term.variants):
                return None
            own = {
                variant.word: [min(count, variant.books) for count in variant.postings]
                for variant in term.variants
                if variant.postings is not None
            }
            planned.append(tuple(levels_of(term, own)))
        levels.append(planned[0])
    return levels


def combinations(
    levels: Sequence[Sequence[Level]],
) -> list[tuple[int, list[tuple[Level, ...]]]]:
    """(score, its combinations of levels), best score first; ``levels``: each term's."""
    groups: dict[int, list[tuple[Level, ...]]] = defaultdict(list)
    for combination in product(*levels):
        groups[sum(level.weight for level in combination)].append(combination)
    return sorted(groups.items(), reverse=True)


def signature(levels: Sequence[Level]) -> int:
    """The combination as one number: each term's weight in its own 5 bits, in term order."""
    return sum(level.weight << (SIGNATURE_BITS * n) for n, level in enumerate(levels))


# What the walk costs, in buffers read: a probe of a book's row (or of
# another index) touches about four pages; a run read in order, one page
# per few hundred postings. A page needs about PAGE_ROWS books per walk.
# Counting merged postings as CPU instead (10 to a page) was tried on
# 2026-11-29 and undone: with each text's pages warm (run three times) the
# page statements took 15 to 19% less time at 1M books, but run once each,
# as a customer's searches are, the two were within 4% of each other, and
# q_words lost 14 to 17% of its requests/s in two benchmark runs.
PROBE_PAGES = 4
POSTINGS_PER_PAGE = 300
PAGE_ROWS = 21


def walk_cost(walked: Level, partner: Level | None, confirm: bool) -> float:
    """The most a combination's walk may read: its runs, to their end, when few books match.

    Without a partner every posting walked is a probe; with one, each run of
    the walked level is read side by side with the partner's, and about a
    page of books found is probed when the row must confirm them.
    """
    if partner is None:
        return walked.postings * PROBE_PAGES
    walks = -(-len(walked.runs) // WORD_SLOTS)
    merged = (walked.postings + walks * partner.postings) / POSTINGS_PER_PAGE
    return merged + (walks * PAGE_ROWS * PROBE_PAGES if confirm else 0)


def cheapest_walk(
    combo: Sequence[Level], several_words: bool | None = None
) -> tuple[Level, Level | None]:
    """The level to walk, and a level of one word to merge join with it, if any.

    Every level may be walked (one walk per word of it), merge joined with
    any other level of a single word, or with none; the cheapest by
    ``walk_cost`` is taken. "ropour zou": the 6 completions of "zou" in
    titles, each merged with the 3,434 titles holding "ropour", rather than
    those 3,434 rows probed for a completion (14,000 pages). ``several_words``:
    whether any level of ``combo`` has several words, when already known.
    """
    if several_words is None:
        several_words = any(level.several_words for level in combo)
    # The first of the cheapest, in this order (as ``min`` of the options).
    cheapest: tuple[float, Level, Level | None] | None = None
    for walked in combo:
        # Without a partner the cost does not depend on the row's check.
        cost = walk_cost(walked, None, False)
        if cheapest is None or cost < cheapest[0]:
            cheapest = (cost, walked, None)
        for partner in combo:
            if partner is walked or len(partner.pairs) != 1:
                continue
            confirm = row_confirms(combo, walked, partner, several_words)
            cost = walk_cost(walked, partner, confirm)
            if cost < cheapest[0]:
                cheapest = (cost, walked, partner)
    assert cheapest is not None, "a combination has a level per term"
    return cheapest[1], cheapest[2]


def row_confirms(
    combo: Sequence[Level], walked: Level, partner: Level | None, several_words: bool
) -> bool:
    """Whether the book's row must confirm the combination its walk found.

    It must when a level is neither walked nor merged, or when a level has
    several words (``several_words``: any of ``combo``'s, asked once per
    combination), none of which may sit at a better level.
    """
    return several_words or any(level not in (walked, partner) for level in combo)


# A run this many times longer than the one it meets is probed, once per
# posting of the shorter, rather than read side by side with it. A merge join
# reads both runs to the end of the shorter's ids, which span the catalog:
# "volume" in 300,344 titles met with the 565 holding "kodrar" read all
# 300,344 (57 ms of CPU at 1M books) where 565 probes of the primary key took
# 2.4 ms. A probe costs about twenty postings read in order (2.7 to 4.3 us
# against 0.13 to 0.19), so the shorter run drives from this ratio on.
PROBE_RATIO = 25


def met(
    group: int,
    pairs: Sequence[tuple[str, int]],
    runs: Sequence[int],
    after_id: int,
    partner: Level | None,
    check_row: bool,
    signature: int,
    known: tuple[int | None, int | None] = (None, None),
) -> list[Branch]:
    """The walks of ``pairs`` (a level's (word, field), about ``runs`` postings each).

    Met with ``partner``'s run by a merge join when the two are of comparable
    length, the level's words read as one run (a union of up to
    ``WORD_SLOTS`` words a walk, in book_id order), else by walking the
    shorter and probing the other, one word a walk: a word whose run is
    ``PROBE_RATIO`` times the partner's is met by walking the partner's run
    and probing the word's (the books in both are the same); a union whose
    runs together are that much shorter than the partner's is walked a word
    at a time, the partner probed. Without a partner, each word is walked
    alone (the row confirms each posting). ``known``: the ``known_key`` of
    ``pairs`` (one for the level: its weight tells the field and exactness)
    and of the partner's pair.
    """
    field = pairs[0][1]
    if partner is None:
        return [
            Branch(group, (word,), field, after_id, None, check_row, signature, known=known)
            for word, _ in pairs
        ]
    other, other_run = partner.pairs[0], partner.postings
    found: list[Branch] = []
    rest: list[tuple[int, str]] = []
    for (word, _), run in zip(pairs, runs, strict=True):
        if run >= PROBE_RATIO * other_run:
            found.append(
                Branch(
                    group,
                    (other[0],),
                    other[1],
                    after_id,
                    (word, field),
                    check_row,
                    signature,
                    True,
                    known,
                )
            )
        else:
            rest.append((run, word))
    # The longest runs together, WORD_SLOTS to a walk: the shortest come
    # last, and a union of them still far shorter than the partner's run is
    # probed, a word a walk. (Runs dealt out evenly over the walks instead
    # took 6% more CPU on q_prefix's texts, 2026-11-30.)
    rest.sort(key=lambda entry: -entry[0])
    for n in range(0, len(rest), WORD_SLOTS):
        chunk = rest[n : n + WORD_SLOTS]
        if other_run >= PROBE_RATIO * sum(run for run, _ in chunk):
            found.extend(
                Branch(group, (word,), field, after_id, other, check_row, signature, True, known)
                for _, word in chunk
            )
        else:
            words = tuple(word for _, word in chunk)
            found.append(
                Branch(group, words, field, after_id, other, check_row, signature, known=known)
            )
    return found


def _term_of(combo: Sequence[Level], level: Level) -> int:
    """The number of ``level``'s term in ``combo`` (by identity: two terms may be equal)."""
    return next(n for n, other in enumerate(combo) if other is level)


def _known_of(term: int, level: Level, pair: tuple[str, int]) -> int:
    """``known_key`` of ``pair``, a (word, field) of ``level``, its combination's ``term``-th."""
    return known_key(term, pair[1], pair[0] in level.term.inexact_words)


def branches(
    groups: list[tuple[int, list[tuple[Level, ...]]]], after: Relevance
) -> tuple[list[int], list[Branch]]:
    """The scores of the groups after ``after``, and the runs that find their books.

    A combination is found by walking one of its levels' runs (one branch
    per (word, field) pair), merge joined with the run of one word of
    another level, as ``cheapest_walk`` picks. The book's row confirms the
    rest: the levels neither walked nor merged, and a level of several words
    (none of them at a better level).
    """
    scores: list[int] = []
    found: list[Branch] = []
    for score, combos in groups:
        if score > after.score:
            continue
        scores.append(score)
        after_id = after.id if score == after.score else 0
        for combo in combos:
            several_words = any(level.several_words for level in combo)
            walked, partner = cheapest_walk(combo, several_words)
            check_row = row_confirms(combo, walked, partner, several_words)
            combined = signature(combo)
            partner_known = (
                None
                if partner is None
                else _known_of(_term_of(combo, partner), partner, partner.pairs[0])
            )
            # One key for the level: its weight tells its field and exactness.
            walked_known = _known_of(_term_of(combo, walked), walked, walked.pairs[0])
            found.extend(
                met(
                    len(scores),
                    walked.pairs,
                    walked.runs,
                    after_id,
                    partner,
                    check_row,
                    combined,
                    (walked_known, partner_known),
                )
            )
    return scores, found


# The best group's walk is read alone (``level_walk.first_walk``) when its
# books are guessed at least FILLS_MARGIN pages (from independence, the
# runs' lengths over the catalog's books): a walk that falls short is read
# to its runs' ends, and then the page by levels reads it again.
FILLS_MARGIN = 2.5


def best_group_fills(
    groups: list[tuple[int, list[tuple[Level, ...]]]],
    after: Relevance,
    limit: int,
    catalog_books: int,
) -> bool:
    """Whether the first group after ``after`` is one combination of two levels whose
    books, guessed from independence, are FILLS_MARGIN times ``limit`` or more."""
    first = next((combos for score, combos in groups if score <= after.score), None)
    if catalog_books <= 0 or first is None or len(first) != 1 or len(first[0]) != 2:
        return False
    walked, partner = first[0]
    return walked.postings * partner.postings >= FILLS_MARGIN * limit * catalog_books


async def best_matches(
    db: DatabaseConnection,
    match: Match,
    criteria: Criteria,
    after: Relevance,
    limit: int,
    *,
    known_version: int | None = None,
    catalog_books: int = 0,
) -> QueryString | None:
    """The statement of the page by levels; None when the query has too many combinations.

    ``known_version``: the catalog version this process knows (``postings_per_field``);
    ``catalog_books``: about how many books the catalog holds (``best_group_fills``).
    """
    if len(match.terms) > MAX_TERMS:
        return None
    levels = kept_levels(match.terms)
    if levels is None:
        postings = await postings_per_field(db, match.terms, known_version=known_version)
        levels = [levels_of(term, postings) for term in match.terms]
    if prod(len(term_levels) for term_levels in levels) > MAX_COMBINATIONS:
        return None
    groups = combinations(levels)
    scores, walks = branches(groups, after)
    if len(walks) > MAX_BRANCHES:
        return None
    fills = best_group_fills(groups, after, limit, catalog_books)
    return page_by_levels(match, criteria, limit, scores, walks, first_walk_fills=fills)
