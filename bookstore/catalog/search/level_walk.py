"""The statement that runs the walks of a page by levels (``levels`` plans them).

The walks are parameters of the statement, not part of its text: arrays of
(group, words, field, ...) that a recursive query reads walk by walk. Its
text depends on the filters only, so a pooled connection plans it once; a
statement written per combination (one UNION branch per walk) was planned
anew by most searches, and planning cost as much as running it.

A walk is a ``Branch``: one run of postings, met with a partner's run by a
merge join or by probes, the book's ``book_search`` row confirming what
neither tells (its *signature*: each term's score in a few bits of a
bigint). The statement reads the walks in order and stops when the page is
full.

A merged walk's run may be the union of up to ``WORD_SLOTS`` words' runs in
one field (a prefix's completions, a typo's corrections at one level), read
in book_id order as one (a Merge Append of one index scan per word), so
that it stops after the page's books in the union, not per word: "dark
prai" walked five completions of "prai" in titles one after the other, each
to its own matches (1,800 probes; 7,485 buffers for the walk); four of them
are now one union merged with "dark" in titles, the fifth, a short run,
probing it (2,003 buffers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.pages import ranges_of_book
from bookstore.catalog.search import ranking
from bookstore.catalog.search.pages import Match, book_conditions, in_categories, row_conditions
from bookstore.catalog.statements import all_of, literal_limit
from bookstore.query_text import Compiled, Sql, compile_postgres

# Bits of a term's weight in a combination's signature (weights are at most 16).
SIGNATURE_BITS = 5


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
        " + ".join(f"({{}}::bigint << {SIGNATURE_BITS * n})" for n in range(len(arrays))),
        *(
            ranking.score_of_arrays(row, exact, inexact, _known_conditions(n))
            for n, (exact, inexact) in enumerate(arrays)
        ),
    )


class Branch(NamedTuple):
    """One run of postings walked for one combination of levels.

    A named tuple: a search makes one per walk (a prefix's twenty
    completions in several), and a frozen dataclass costs three times as
    much to make (``object.__setattr__`` per field).
    """

    group: int  # the score's group, 1 for the best
    # The walked words, of one field: one unless merged, at most WORD_SLOTS.
    words: tuple[str, ...]
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


# One walk per step of ``walk``: ``done`` holds the groups read (their ids in
# page order, ``done_grp`` their groups), ``ids`` the lowest ids of the
# current group, at most the ``need`` the page still lacks. Once ``ids`` is
# full, a walk of the same group only looks below its highest (``bound``).
# Three ways of reading a walk: one word merge joined with its partner, while
# the group is not full, without the bound (its key costs each posting read a
# comparison: 10% more CPU for walks it does not shorten); the union of a
# walk's words (``_run``: one word when the group is full) merge joined, below
# the bound; one word probed or alone, below the bound (a probe per posting
# costs far more than the key). Only one way reads a given walk: each is gated
# by a one-time filter, and the three are one Merge Append in book_id order
# whose rows one copy of the row check confirms (``found``), up to a page. The
# statement's fixed cost is its plan's nodes, which every execution sets up
# and shuts down (some 2-3 us each at 1M books, 2026-11-30): hence no way has
# its own row check, LIMIT or sort; a step's need, full and bound are one
# lateral subquery kept apart (OFFSET 0), not pulled up into every index
# condition and gate; the page is not sorted here (the details' ORDER BY
# (score, id) sorts it). Both bounds of a merged walk are on book_id: the row
# comparison (field, book_id) > (field, after_id) once made the generic plan
# nest-loop the two runs, and cost the union's scans 3% of q_prefix's CPU
# (tests/test_query_plans.py checks the merge join; docs/performance-journal.md, "The
# level walk bounded by its page", "A level's words read as one run", "The
# level walk's fixed cost").
_LEVEL_WALK = """
WITH RECURSIVE branch AS MATERIALIZED (
    SELECT b.*, {slots}
    FROM (SELECT {{}}::text::text[] AS words OFFSET 0) AS x
    CROSS JOIN unnest({{}}::text::integer[], {{}}::text::smallint[], {{}}::text::integer[],
                      {{}}::text::text[], {{}}::text::smallint[], {{}}::text::boolean[],
                      {{}}::text::bigint[], {{}}::text::boolean[], {{}}::text::integer[],
                      {{}}::text::integer[])
        WITH ORDINALITY AS b (grp, field, after_id, partner_word, partner_field,
                              check_row, signature, merged, known_a, known_b, k)
), walk (k, grp, done, done_grp, ids) AS (
    SELECT 0::bigint, 1, ARRAY[]::integer[], ARRAY[]::integer[], ARRAY[]::integer[]
  UNION ALL
    SELECT b.k, b.grp, s.done, s.done_grp, g.ids
    FROM walk JOIN branch b ON b.k = walk.k + 1
    CROSS JOIN LATERAL (SELECT s.*, {rows} - cardinality(s.done) AS need,
                               COALESCE(s.ids[{rows} - cardinality(s.done)], 2147483647) AS bound,
                               cardinality(s.ids) >= {rows} - cardinality(s.done) AS full
        FROM (SELECT
        CASE WHEN b.grp = walk.grp THEN walk.done ELSE walk.done || walk.ids END AS done,
        CASE WHEN b.grp = walk.grp THEN walk.done_grp
             ELSE walk.done_grp || array_fill(walk.grp, ARRAY[cardinality(walk.ids)]) END
            AS done_grp,
        CASE WHEN b.grp = walk.grp THEN walk.ids ELSE ARRAY[]::integer[] END AS ids) AS s
        OFFSET 0) AS s
    CROSS JOIN LATERAL (SELECT ARRAY(
        SELECT DISTINCT f.id FROM unnest(s.ids || ARRAY(
            SELECT j.id FROM (
                (SELECT p.book_id AS id FROM search_postings p
                 JOIN search_postings m ON m.book_id = p.book_id
                 WHERE b.merged AND b.w2 IS NULL AND NOT s.full
                   AND p.word = b.w1 AND p.field = b.field
                   AND p.book_id > b.after_id
                   AND m.word = b.partner_word AND m.field = b.partner_field
                   AND m.book_id > b.after_id
                 ORDER BY p.book_id)
              UNION ALL
                (SELECT DISTINCT r.id
                 FROM (SELECT r.id FROM ({run}) AS r ORDER BY r.id OFFSET 0) AS r
                 JOIN search_postings m ON m.book_id = r.id
                 WHERE b.merged AND (b.w2 IS NOT NULL OR s.full)
                   AND m.word = b.partner_word AND m.field = b.partner_field
                   AND m.book_id > b.after_id
                 ORDER BY r.id)
              UNION ALL
                (SELECT p.book_id FROM search_postings p
                 WHERE NOT b.merged
                   AND p.word = b.w1 AND p.field = b.field
                   AND p.book_id > b.after_id AND p.book_id < s.bound
                   AND {probed}
                 ORDER BY p.book_id)
                ORDER BY id OFFSET 0) AS j
             WHERE {found} {limit})) AS f (id)
        ORDER BY f.id LIMIT s.need) AS ids OFFSET 0) AS g
    WHERE s.need > 0
)
SELECT i.id, ({{}}::integer[])[i.grp] AS score
FROM (SELECT * FROM walk ORDER BY walk.k DESC LIMIT 1) AS last
CROSS JOIN LATERAL unnest(last.done || last.ids,
                          last.done_grp || array_fill(last.grp, ARRAY[cardinality(last.ids)]))
    AS i (id, grp)
"""


# The words a merged walk reads as one run. Each slot is an index scan that
# every execution of the statement sets up, used or not (about 5 us of
# PostgreSQL CPU each at 1M books): 4 slots did best on q_prefix's 500 texts
# against 6 and 8 (2026-11-30); a level of more words is walked in several
# unions.
WORD_SLOTS = 4


def _run(condition: str) -> str:
    """The union of a walk's words' runs, in book_id order: a Merge Append of index scans.

    One scan per slot, each ordered by its own ``ORDER BY`` (without it the
    planner appended the runs and sorted them, reading them to their ends);
    an unused slot is NULL and its scan never starts (the ``IS NOT NULL``
    gate is a one-time filter).
    """
    return "\n  UNION ALL ".join(
        f"(SELECT p.book_id AS id FROM search_postings p"
        f" WHERE {'' if slot == 1 else f'b.w{slot} IS NOT NULL AND '}"
        f"p.word = b.w{slot} AND p.field = b.field AND {condition}"
        " ORDER BY p.book_id)"
        for slot in range(1, WORD_SLOTS + 1)
    )


# A walk without a merge partner: alone, or with its partner's run probed
# (``OFFSET 0``: a probe per posting, never a join the planner could hash).
_PROBED = """(b.partner_word IS NULL OR EXISTS (
    SELECT 1 FROM search_postings m WHERE m.word = b.partner_word
      AND m.field = b.partner_field AND m.book_id = p.book_id OFFSET 0))"""


@functools.cache
def _level_walk_text(limit: int) -> str:
    """``_LEVEL_WALK`` for a page of ``limit`` rows, written once per page size."""
    return _LEVEL_WALK.format(
        slots=", ".join(
            f"x.words[(b.k - 1) * {WORD_SLOTS} + {slot}] AS w{slot}"
            for slot in range(1, WORD_SLOTS + 1)
        ),
        run=_run("p.book_id > b.after_id AND p.book_id < s.bound"),
        found="{}",
        probed=_PROBED,
        limit=literal_limit(limit),
        rows=int(limit),
    )


# The walks' arrays, in the order of _LEVEL_WALK's first placeholders.
_WALK_ARRAYS = 11


# The walks' arrays are sent in PostgreSQL's text form, one string each, and
# cast by the statement ({}::text::integer[]). asyncpg encodes a list element
# by element, asking each one or two Python-level isinstance checks against
# collections.abc (about 2,000 instructions each): a walked q_prefix page sent
# some 90 walk elements, 0.2 M of the worker's 3.3 M instructions a request.
# The strings are made by joins over the walks' columns, without Python code
# per element. The statement reads them once (a MATERIALIZED CTE), and a
# generic plan estimates an unnest of a cast parameter as one of a parameter
# (10 rows). The terms' words, compared with every row checked, stay arrays.


def _array_text(values: Iterable[int | bool | None]) -> str:
    """An array literal of integers or booleans (``True``, as PostgreSQL reads it), None NULL."""
    return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"


def _quoted_text(words: Iterable[str]) -> str:
    """``words`` as quoted elements of an array literal, a backslash before each \\ and ".

    Joined by NUL, which no word holds (PostgreSQL's text cannot), and
    escaped at once.
    """
    joined = "\0".join(words).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + joined.replace("\0", '","') + '"'


# The NULLs after a walk's words, by their number.
_UNUSED_SLOTS = tuple(",NULL" * (WORD_SLOTS - used) for used in range(WORD_SLOTS + 1))


def _walks_text(walked: Sequence[Branch]) -> list[str]:
    """The walks' arrays, in the order of ``_LEVEL_WALK``'s first placeholders."""
    if not walked:
        return ["{}"] * _WALK_ARRAYS
    groups, words, fields, after_ids, partners, check_rows, signatures, probes, known = zip(
        *walked, strict=True
    )
    partner_words = ["NULL" if p is None else _quoted_text(p[:1]) for p in partners]
    return [
        # Each walk's words in WORD_SLOTS entries, the unused ones NULL.
        "{" + ",".join(_quoted_text(run) + _UNUSED_SLOTS[len(run)] for run in words) + "}",
        _array_text(groups),
        _array_text(fields),
        _array_text(after_ids),
        "{" + ",".join(partner_words) + "}",
        _array_text(None if p is None else p[1] for p in partners),
        _array_text(check_rows),
        _array_text(signatures),
        _array_text(
            p is not None and not probe for p, probe in zip(partners, probes, strict=True)
        ),
        *(_array_text(keys) for keys in zip(*known, strict=True)),
    ]


def page_by_levels(
    match: Match,
    criteria: Criteria,
    limit: int,
    scores: list[int],
    walked: list[Branch],
    *,
    first_walk_fills: bool = False,
) -> QueryString:
    """(id, score) of the best ``limit`` matches: one score's group after another.

    ``scores`` and ``walked``: what ``branches`` gives for the cursor. The
    walks are parameters (arrays, one entry per walk), and a recursive query
    reads one walk per step until the page is full: its text depends on the
    filters only, so a pooled connection plans it once and reuses the plan
    for any words (a statement written per combination was planned anew by
    most searches: 14 ms of planning for 11 ms of running, "dark as" at
    30,000 books under load).

    Without filters but categories its text depends on the page's size,
    the number of terms and of category sets alone, and is compiled once
    for them (``_walk_text``): a request computes its arguments only.

    ``first_walk_fills``: the best group's walk is likely to fill the page
    (``levels.best_group_fills``); without filters, a first page whose best
    group is one walk of the shape ``first_walk`` reads is then read by that
    walk alone (``FirstWalk``), the page by levels kept for when it does not.
    """
    walks = _walks_text(walked)
    # New lists for every statement, never shared: see ranking.term_score.
    arrays = [(list(term.exact), list(term.inexact)) for term in match.terms]
    in_row = row_conditions("s", match, criteria)
    if not in_row and not ranges_of_book("j.id", criteria):
        sets = [list(category_ids) for category_ids in criteria.category_sets]
        values = [*walks, *sets, *(array for pair in arrays for array in pair), scores]
        whole = Compiled(_walk_text(limit, len(arrays), len(sets)), values)
        alone = None if sets or not first_walk_fills else first_walk(limit, scores, walked)
        return whole if alone is None else FirstWalk(alone, whole, limit)
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

    # One row check for the three ways of reading a walk (see _LEVEL_WALK).
    return Sql(_level_walk_text(limit), *walks, found("j.id"), scores)


@functools.lru_cache(maxsize=64)
def _walk_text(limit: int, terms: int, category_sets: int = 0) -> str:
    """The text of a page by levels of ``terms`` terms with no filter but
    ``category_sets`` sets of categories, compiled once.

    Compiled from the same tree as a filtered page's, its values written as
    their placeholders, numbered as ``compile_postgres`` numbers a
    request's (the walks' arrays, each category set, each term's exact and
    inexact words, the scores): the same text. Compiling the tree took
    some 35 us of a q_prefix request's worker CPU (2026-11-30); with a
    category it was compiled for every request until session 28. At most 4
    page sizes
    (``statements.FETCH_SIZES``) times ``MAX_TERMS`` texts a number of sets.
    """
    placeholders = iter(
        Sql(f"${n}") for n in range(1, _WALK_ARRAYS + category_sets + 2 * terms + 2)
    )
    walks = [next(placeholders) for _ in range(_WALK_ARRAYS)]
    sets = [next(placeholders) for _ in range(category_sets)]
    arrays = [(next(placeholders), next(placeholders)) for _ in range(terms)]
    scores = next(placeholders)
    statement = _level_statement(
        limit, walks, arrays, scores, [], lambda book: [in_categories(book, s) for s in sets]
    )
    text, args = compile_postgres(statement)
    if args:
        raise RuntimeError(f"a value of the page by levels is not a placeholder: {args}")
    return text


# The best group's one walk read alone (``first_walk``): one word's run met
# with its partner's, merge joined or probed, as the walk's first and third
# ways read it, without the recursive statement around them. Most first
# pages of a word and a prefix are one such walk: at 1M books 301 of the 315
# walked first pages of q_prefix's texts had a best group of one walk of one
# word, with no row to check, that filled the page (2026-11-30, session 29).
# The page by levels sets up some fifty nodes at every execution and reads
# its walk through its gates, bounds and row check; read alone, the same
# books cost x0.6-0.8 of PostgreSQL's CPU ("memory bi" 1,429 -> 895 us).
_FIRST_WALK_MERGED = """
SELECT p.book_id AS id, $5::integer AS score
FROM search_postings p JOIN search_postings m ON m.book_id = p.book_id
WHERE p.word = $1 AND p.field = $2 AND m.word = $3 AND m.field = $4
ORDER BY p.book_id {limit}"""
_FIRST_WALK_PROBED = """
SELECT p.book_id AS id, $5::integer AS score
FROM search_postings p
WHERE p.word = $1 AND p.field = $2
  AND EXISTS (SELECT 1 FROM search_postings m
              WHERE m.word = $3 AND m.field = $4 AND m.book_id = p.book_id OFFSET 0)
ORDER BY p.book_id {limit}"""


@functools.cache
def _first_walk_text(limit: int, probe: bool) -> str:
    """The text of ``first_walk`` for a page of ``limit`` rows, merged or ``probe``d."""
    return (_FIRST_WALK_PROBED if probe else _FIRST_WALK_MERGED).format(limit=literal_limit(limit))


class FirstWalk(Sql):
    """A first page read by its best group's one walk alone (``first_walk``), and the
    page by levels (``whole``) to read instead when it finds fewer than ``rows`` books.
    A page in title order walked along the title index (``ordered.page_by_title_walk``)
    is one too, ``whole`` then every match sorted (``pages.page_by_title``).

    A ``QueryString`` that compiles to the walk alone, so that it is planned,
    kept (``kept_pages``) and wrapped (``details``) as any page's statement;
    the search reads ``whole`` when the walk fell short of a page, one
    statement more.
    """

    __slots__ = ("rows", "whole")

    def __init__(self, walk: QueryString, whole: QueryString, rows: int) -> None:
        super().__init__("{}", walk)
        self.whole = whole
        self.rows = rows


def first_walk(limit: int, scores: Sequence[int], walked: Sequence[Branch]) -> QueryString | None:
    """The first page's ids when its best group is one walk of one word met with its
    partner's run, which tell its books without their rows (``Branch.check_row``
    false): the walk's first ``limit`` books, at the group's score. None otherwise.

    Its books are the page's when it finds ``limit`` of them: every book of
    the best group scores more than any other, and the page by levels takes
    the group's lowest ids, which are the walk's. Fewer, and the page goes on
    into the next groups: the caller reads the page by levels instead
    (``FirstWalk``). Only for a search without filters (``page_by_levels``).
    """
    if not walked or walked[0].group != 1 or (len(walked) > 1 and walked[1].group == 1):
        return None
    branch = walked[0]
    if len(branch.words) != 1 or branch.partner is None or branch.check_row or branch.after_id:
        return None
    word, (partner_word, partner_field) = branch.words[0], branch.partner
    values = [word, branch.field, partner_word, partner_field, scores[0]]
    return Compiled(_first_walk_text(limit, branch.probe), values)
