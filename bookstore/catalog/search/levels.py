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

The walks are parameters of the statement, not part of its text: arrays of
(group, word, field, ...) that a recursive query reads walk by walk. Its
text depends on the filters only, so a pooled connection plans it once; a
statement written per combination (one UNION branch per walk) was planned
anew by most searches, and planning cost as much as running it.

A term of several words (a corrected word's candidates, a prefix's
completions) is the union of its words' postings at a level; a book is
counted at a level only when none of the term's words is at a better one.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import product
from math import prod
from typing import NamedTuple

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.kept_terms import kept_terms
from bookstore.catalog.search.pages import Match, Relevance, book_conditions, row_conditions
from bookstore.catalog.search.vocabulary import RUN_SIZE, ResolvedTerm
from bookstore.catalog.statements import all_of, literal_limit
from bookstore.database import DatabaseConnection, fetch
from bookstore.query_text import Compiled, Sql, compile_postgres

# More walks than this (five terms each in three fields, a prefix's 20
# completions in many combinations...) and the page is taken from the GIN
# index instead: each score's group runs all its walks.
MAX_BRANCHES = 256
# Combinations enumerated at most (the product of the terms' levels).
MAX_COMBINATIONS = 1_024
# Bits of a term's weight in a combination's signature (weights are at most
# 16), and the terms a bigint signature holds; more and the page is taken
# from the GIN index.
_SIGNATURE_BITS = 5
MAX_TERMS = 12

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
        return len({word for word, _ in (*self.pairs, *self.better)}) > 1


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
    """The term's levels, best first, from the fields its words are found in."""
    by_weight: dict[int, list[tuple[str, int]]] = defaultdict(list)
    runs: dict[int, list[int]] = defaultdict(list)
    for variant in term.variants:
        penalty = ranking.INEXACT_PENALTY if variant.inexact else 0
        for field, count in enumerate(postings.get(variant.word, [0] * len(ranking.WEIGHTS))):
            if count:
                weight = ranking.WEIGHTS[field] - penalty
                by_weight[weight].append((variant.word, field))
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
    return sum(level.weight << (_SIGNATURE_BITS * n) for n, level in enumerate(levels))


def known_key(term: int, field: int, inexact: bool) -> int:
    """A (term, field, exactness) a walk already knows a book holds, as one number."""
    return (term * len(ranking.FIELDS) + field) * 2 + int(inexact)


@functools.cache
def _known_conditions(term: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the walk tells of the ``term``-th term's fields, exact and inexact words.

    Each overlap of ``ranking.score_of_arrays`` is preceded by whether
    the walk's own postings already say it holds (``b.known_a``,
    ``b.known_b``: ``known_key`` of the walked posting and of its partner's).
    Overlapping a row's description (some 80 words) with a prefix's twenty
    completions is 1,600 comparisons of text, 60 to 100 us a row, and the
    walk of a completion's postings in descriptions knows the answer
    already. The value is the same: a posting (word, field) is written from
    that field of the same row.
    """

    def conditions(inexact: bool) -> tuple[str, ...]:
        keys = (known_key(term, field, inexact) for field in range(len(ranking.FIELDS)))
        return tuple(f"b.known_a = {key} OR b.known_b = {key}" for key in keys)

    return conditions(False), conditions(True)


def _row_signature(row: str, arrays: Sequence[tuple[object, object]]) -> QueryString:
    """The signature of the combination a book_search row ``row`` sits in.

    Each term's score as ``ranking`` computes it (array overlaps with the
    row's fields, a few microseconds), its exact and inexact words passed
    as two arrays even when one is empty (``arrays``: each term's pair): the
    text depends on the number of terms only. (Grouping unnested variants by
    term instead cost 40 us a row with a prefix's 21 words, most of a search
    that checks 1,300 rows.) What the walk's postings already tell is not
    asked of the row again (``_known_conditions``).
    """
    return Sql(
        " + ".join(f"({{}}::bigint << {_SIGNATURE_BITS * n})" for n in range(len(arrays))),
        *(
            ranking.score_of_arrays(row, exact, inexact, _known_conditions(n))
            for n, (exact, inexact) in enumerate(arrays)
        ),
    )


class Branch(NamedTuple):
    """One run of postings walked for one combination of levels.

    A named tuple: a search makes one per word walked (a prefix's twenty
    completions each), and a frozen dataclass costs three times as much to
    make (``object.__setattr__`` per field).
    """

    group: int  # the score's group, 1 for the best
    word: str
    field: int
    after_id: int
    partner: tuple[str, int] | None  # a run met with it
    check_row: bool  # whether the book's row must confirm the combination
    signature: int
    # The partner's run is probed per posting walked instead of merge joined:
    # the walked run is the shorter by far (``PROBE_RATIO``).
    probe: bool = False
    # What the walked posting and its partner's tell of the row (``known_key``).
    known: tuple[int | None, int | None] = (None, None)


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
    merged = sum(run + partner.postings for run in walked.runs) / POSTINGS_PER_PAGE
    return merged + (len(walked.runs) * PAGE_ROWS * PROBE_PAGES if confirm else 0)


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
    options = []
    for walked in combo:
        # Without a partner the cost does not depend on the row's check.
        options.append((walk_cost(walked, None, False), walked, None))
        for partner in combo:
            if partner is walked or len(partner.pairs) != 1:
                continue
            confirm = row_confirms(combo, walked, partner, several_words)
            options.append((walk_cost(walked, partner, confirm), walked, partner))
    _, walked, partner = min(options, key=lambda option: option[0])
    return walked, partner


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
    pair: tuple[str, int],
    run: int,
    after_id: int,
    partner: Level | None,
    check_row: bool,
    signature: int,
    known: tuple[int | None, int | None] = (None, None),
) -> Branch:
    """The branch walking ``pair`` (word, field), about ``run`` postings, met with ``partner``.

    Met by a merge join when the two runs are of comparable length, else by
    walking the shorter and probing the other: the pairs swap when the
    partner's run is the shorter by far (the books in both are the same).
    ``known``: the ``known_key`` of ``pair`` and of the partner's pair.
    """
    if partner is None:
        return Branch(group, *pair, after_id, None, check_row, signature, known=known)
    other, other_run = partner.pairs[0], partner.postings
    if other_run >= PROBE_RATIO * run:
        return Branch(group, *pair, after_id, other, check_row, signature, True, known)
    if run >= PROBE_RATIO * other_run:
        return Branch(group, *other, after_id, pair, check_row, signature, True, known)
    return Branch(group, *pair, after_id, other, check_row, signature, known=known)


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
            walked_term = _term_of(combo, walked)
            found.extend(
                met(
                    len(scores),
                    pair,
                    run,
                    after_id,
                    partner,
                    check_row,
                    combined,
                    (_known_of(walked_term, walked, pair), partner_known),
                )
                for pair, run in zip(walked.pairs, walked.runs, strict=True)
            )
    return scores, found


# One walk per step of ``walk``: ``done`` holds the groups read (their ids in
# page order, ``done_grp`` their groups), ``ids`` the lowest ids of the
# current group, at most the ``need`` the page still lacks. Once ``ids`` is
# full, a walk of the same group only looks below its highest (``bound``).
# Each way of reading a walk comes twice, with the bound and without: the
# bound's key costs each posting read a comparison (10% more CPU for walks it
# does not shorten). In the bounded merge join the lower bound is the row
# comparison (field, book_id) > (field, after_id), not book_id > after_id:
# with both bounds on book_id the generic plan estimated a range of one row
# and nested-looped the two runs (2.7 million postings read for one q_prefix
# page at 100,000 books).
_LEVEL_WALK = """
WITH RECURSIVE branch AS MATERIALIZED (
    SELECT * FROM unnest({{}}::integer[], {{}}::text[], {{}}::smallint[], {{}}::integer[],
                         {{}}::text[], {{}}::smallint[], {{}}::boolean[], {{}}::bigint[],
                         {{}}::boolean[], {{}}::integer[], {{}}::integer[])
        WITH ORDINALITY AS b (grp, word, field, after_id, partner_word, partner_field,
                              check_row, signature, merged, known_a, known_b, k)
), walk (k, grp, done, done_grp, ids) AS (
    SELECT 0::bigint, 1, ARRAY[]::integer[], ARRAY[]::integer[], ARRAY[]::integer[]
  UNION ALL
    SELECT b.k, b.grp, s.done, s.done_grp, g.ids
    FROM walk JOIN branch b ON b.k = walk.k + 1
    CROSS JOIN LATERAL (SELECT
        CASE WHEN b.grp = walk.grp THEN walk.done ELSE walk.done || walk.ids END AS done,
        CASE WHEN b.grp = walk.grp THEN walk.done_grp
             ELSE walk.done_grp || array_fill(walk.grp, ARRAY[cardinality(walk.ids)]) END
            AS done_grp,
        CASE WHEN b.grp = walk.grp THEN walk.ids ELSE ARRAY[]::integer[] END AS ids) AS s
    CROSS JOIN LATERAL (SELECT {rows} - cardinality(s.done) AS need) AS n
    CROSS JOIN LATERAL (SELECT cardinality(s.ids) >= n.need AS full,
                               s.ids[n.need] AS bound) AS u
    CROSS JOIN LATERAL (SELECT ARRAY(
        SELECT DISTINCT f.id FROM (
            SELECT unnest(s.ids) AS id
          UNION ALL
            (SELECT j.id FROM (
                SELECT p.book_id AS id FROM search_postings p
                JOIN search_postings m ON m.book_id = p.book_id
                WHERE b.merged AND NOT u.full
                  AND p.word = b.word AND p.field = b.field AND p.book_id > b.after_id
                  AND m.word = b.partner_word AND m.field = b.partner_field
                  AND m.book_id > b.after_id
                ORDER BY p.book_id OFFSET 0) AS j
             WHERE {found_j} {limit})
          UNION ALL
            (SELECT j.id FROM (
                SELECT p.book_id AS id FROM search_postings p
                JOIN search_postings m ON m.book_id = p.book_id
                WHERE b.merged AND u.full
                  AND p.word = b.word AND p.field = b.field
                  AND (p.field, p.book_id) > (b.field, b.after_id) AND p.book_id < u.bound
                  AND m.word = b.partner_word AND m.field = b.partner_field
                  AND m.book_id > b.after_id
                ORDER BY p.book_id OFFSET 0) AS j
             WHERE {found_j} {limit})
          UNION ALL
            (SELECT p.book_id FROM search_postings p
             WHERE NOT b.merged AND NOT u.full
               AND p.word = b.word AND p.field = b.field AND p.book_id > b.after_id
               AND {probed} AND {found_p}
             ORDER BY p.book_id {limit})
          UNION ALL
            (SELECT p.book_id FROM search_postings p
             WHERE NOT b.merged AND u.full
               AND p.word = b.word AND p.field = b.field
               AND p.book_id > b.after_id AND p.book_id < u.bound
               AND {probed} AND {found_p}
             ORDER BY p.book_id {limit})
        ) AS f
        ORDER BY f.id LIMIT n.need) AS ids OFFSET 0) AS g
    WHERE n.need > 0
)
SELECT i.id, ({{}}::integer[])[i.grp] AS score
FROM (SELECT * FROM walk ORDER BY walk.k DESC LIMIT 1) AS last
CROSS JOIN LATERAL unnest(last.done || last.ids,
                          last.done_grp || array_fill(last.grp, ARRAY[cardinality(last.ids)]))
    WITH ORDINALITY AS i (id, grp, n)
ORDER BY i.n {limit}
"""


# A walk without a merge partner: alone, or with its partner's run probed
# (``OFFSET 0``: a probe per posting, never a join the planner could hash).
_PROBED = """(b.partner_word IS NULL OR EXISTS (
    SELECT 1 FROM search_postings m WHERE m.word = b.partner_word
      AND m.field = b.partner_field AND m.book_id = p.book_id OFFSET 0))"""


@functools.cache
def _level_walk_text(limit: int) -> str:
    """``_LEVEL_WALK`` for a page of ``limit`` rows, written once per page size."""
    return _LEVEL_WALK.format(
        found_j="{}", found_p="{}", probed=_PROBED, limit=literal_limit(limit), rows=int(limit)
    )


# The walks' arrays, in the order of _LEVEL_WALK's first placeholders.
_WALK_ARRAYS = 11


def page_by_levels(
    match: Match, criteria: Criteria, limit: int, scores: list[int], walked: list[Branch]
) -> QueryString:
    """(id, score) of the best ``limit`` matches: one score's group after another.

    ``scores`` and ``walked``: what ``branches`` gives for the cursor. The
    walks are parameters (arrays, one entry per walk), and a recursive query
    reads one walk per step until the page is full: its text depends on the
    filters only, so a pooled connection plans it once and reuses the plan
    for any words (a statement written per combination was planned anew by
    most searches: 14 ms of planning for 11 ms of running, "dark as" at
    30,000 books under load).

    Without filters its text depends on the page's size and the number of
    terms alone, and is compiled once for them (``_unfiltered_text``): a
    request computes its arguments only.
    """
    walks = [
        [b.group for b in walked],
        [b.word for b in walked],
        [b.field for b in walked],
        [b.after_id for b in walked],
        [b.partner[0] if b.partner else None for b in walked],
        [b.partner[1] if b.partner else None for b in walked],
        [b.check_row for b in walked],
        [b.signature for b in walked],
        [b.partner is not None and not b.probe for b in walked],
        [b.known[0] for b in walked],
        [b.known[1] for b in walked],
    ]
    # New lists for every statement, never shared: see ranking._field_weight.
    arrays = [(list(term.exact), list(term.inexact)) for term in match.terms]
    in_row = row_conditions("s", match, criteria)
    if not in_row and not book_conditions("j.id", criteria):
        values = [*walks, *(array for pair in arrays for array in pair), scores]
        return Compiled(_unfiltered_text(limit, len(arrays)), values)
    return _level_statement(
        limit, walks, arrays, scores, in_row, lambda book: book_conditions(book, criteria)
    )


def _level_statement(
    limit: int,
    walks: Sequence[object],
    arrays: Sequence[tuple[object, object]],
    scores: object,
    in_row: list[QueryString],
    on_book: Callable[[str], list[QueryString]],
) -> QueryString:
    """The statement of ``page_by_levels``, from its values.

    ``walks``: the walks' arrays; ``arrays``: each term's exact and inexact
    words; ``in_row``: the filters read from the book's row of book_search;
    ``on_book``: those on the walked id (an alias), probed first.
    """
    signature_matches = Sql("{} = b.signature", _row_signature("s", arrays))
    row_checks = [signature_matches, *in_row]

    def found(book: str) -> QueryString:
        """The book's row confirms it, when it must; the filters on its id come first.

        A category is probed on the id walked before the row is read: in a
        category of 1% of the books, 99 rows in 100 are never fetched.
        """
        row = Sql(
            f"EXISTS (SELECT 1 FROM book_search s WHERE s.book_id = {book} AND {{}} OFFSET 0)",
            all_of(row_checks),
        )
        if len(row_checks) == 1:  # the signature alone: only when the walk cannot tell
            row = Sql("(NOT b.check_row OR {})", row)
        return all_of([*on_book(book), row])

    # Each twice: the walk bounded by the group's page, and not (see _LEVEL_WALK).
    merged, alone = found("j.id"), found("p.book_id")
    return Sql(_level_walk_text(limit), *walks, merged, merged, alone, alone, scores)


@functools.lru_cache(maxsize=64)
def _unfiltered_text(limit: int, terms: int) -> str:
    """The text of an unfiltered page by levels of ``terms`` terms, compiled once.

    Compiled from the same tree as a filtered page's, its values written as
    their placeholders, numbered as ``compile_postgres`` numbers a request's
    (the walks' arrays, then each term's exact and inexact words, then the
    scores): the same text. Compiling the tree took some 35 us of a
    q_prefix request's worker CPU (2026-11-30). At most 4 page sizes
    (``statements.FETCH_SIZES``) times ``MAX_TERMS`` texts.
    """
    placeholders = iter(Sql(f"${n}") for n in range(1, _WALK_ARRAYS + 2 * terms + 2))
    walks = [next(placeholders) for _ in range(_WALK_ARRAYS)]
    arrays = [(next(placeholders), next(placeholders)) for _ in range(terms)]
    statement = _level_statement(limit, walks, arrays, next(placeholders), [], lambda _: [])
    text, args = compile_postgres(statement)
    if args:
        raise RuntimeError(
            f"a value of the unfiltered page by levels is not a placeholder: {args}"
        )
    return text


async def best_matches(
    db: DatabaseConnection,
    match: Match,
    criteria: Criteria,
    after: Relevance,
    limit: int,
    *,
    known_version: int | None = None,
) -> QueryString | None:
    """The statement of the page by levels; None when the query has too many combinations.

    ``known_version``: the catalog version this process knows (``postings_per_field``).
    """
    if len(match.terms) > MAX_TERMS:
        return None
    postings = await postings_per_field(db, match.terms, known_version=known_version)
    levels = [levels_of(term, postings) for term in match.terms]
    if prod(len(term_levels) for term_levels in levels) > MAX_COMBINATIONS:
        return None
    scores, walks = branches(combinations(levels), after)
    if len(walks) > MAX_BRANCHES:
        return None
    return page_by_levels(match, criteria, limit, scores, walks)
