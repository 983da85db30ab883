"""Several terms, best first, reading index entries in order: the page by score level.

A book's score is the sum, over the terms, of the weight of the best field
holding one of the term's words (title 16, author 8, category 4,
description 2, one less for a corrected or completed word). And
``search_postings`` holds each word of a book once, at its best field. So
the books scoring a given sum are those found in a *combination* of
levels, one per term (``ash volume``: ash in the title and volume in the
title, 32; ash in the title and volume in a description, 18; ...), and the
books of one combination are a merge join of the terms' postings at those
levels, each an index range already in id order.

The statement lists the combinations best first, grouped by score, each
group merged in id order (ties go to the lower id) and cut at the page; the
groups are read one after the other and the reading stops at the page. A
frequent pair (``volume``: 300,000 books, ``ash``: 64,000) costs the index
entries up to its 21st book held in both titles, not its 19,000 matches.
What it reads in the worst case is the postings of the combinations it has
to go through: two words seldom in the same book are read to the end of
the shorter's postings at each level (the GIN path would then read their
few matches; the level path reads index entries, not rows).

A term of several words (a corrected word's candidates, a prefix's
completions) is the union of its words' postings at a level; a book is
counted at a level only when none of the term's words is at a better one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.pages import Match, Relevance, filter_conditions
from bookstore.catalog.search.vocabulary import ResolvedTerm
from bookstore.catalog.statements import all_of, literal_limit
from bookstore.database import DatabaseConnection, fetch

# More index walks than this in one statement (five terms each in three
# fields, a prefix's 20 completions in several combinations...) and the page
# is taken from the GIN index instead: planning would cost more than it saves.
MAX_BRANCHES = 64
# Postings counted per (word, field), at most: enough to pick the shortest
# run to walk; beyond it the word's count of books stands in.
COUNTED = 200
# Two runs of one word each, the longer at most this many times the shorter,
# are merge joined: an index page holds a few hundred entries read in order,
# where probing the index for one book touches three or four pages.
MERGE_RATIO = 256

_POSTINGS_PER_FIELD = f"""
SELECT v.word, ARRAY(
    SELECT (SELECT count(*) FROM (SELECT 1 FROM search_postings p
                                  WHERE p.word = v.word AND p.field = f.field
                                  LIMIT {COUNTED + 1}) AS counted)::integer
    FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS f (field) ORDER BY f.field
) AS postings
FROM unnest({{}}::text[]) AS v (word)
"""


@dataclass(frozen=True)
class Level:
    """Where a term's words sit in the books at one weight: (word, field) pairs."""

    weight: int
    pairs: tuple[tuple[str, int], ...]
    better: tuple[tuple[str, int], ...]  # the term's pairs of higher weight
    postings: int  # about how many: the length of the run walked if it drives
    term: ResolvedTerm

    @property
    def several_words(self) -> bool:
        return len({word for word, _ in (*self.pairs, *self.better)}) > 1


async def postings_per_field(
    db: DatabaseConnection, terms: Sequence[ResolvedTerm]
) -> dict[str, list[int]]:
    """For each word of ``terms``, its postings in each field (0: none), about.

    Counted up to COUNTED by reading the index; a longer run counts as the
    word's number of books (``search_words``).
    """
    books = {v.word: v.books for term in terms for v in term.variants}
    rows = await fetch(db, QueryString(_POSTINGS_PER_FIELD, sorted(books)))
    return {
        row["word"]: [
            count if count <= COUNTED else max(books[row["word"]], count)
            for count in row["postings"]
        ]
        for row in rows
    }


def levels_of(term: ResolvedTerm, postings: dict[str, list[int]]) -> list[Level]:
    """The term's levels, best first, from the fields its words are found in."""
    by_weight: dict[int, list[tuple[str, int]]] = defaultdict(list)
    sizes: dict[int, int] = defaultdict(int)
    for variant in term.variants:
        penalty = ranking.INEXACT_PENALTY if variant.inexact else 0
        for field, count in enumerate(postings.get(variant.word, [0] * len(ranking.WEIGHTS))):
            if count:
                weight = ranking.WEIGHTS[field] - penalty
                by_weight[weight].append((variant.word, field))
                sizes[weight] += count
    levels = []
    better: list[tuple[str, int]] = []
    for weight in sorted(by_weight, reverse=True):
        levels.append(Level(weight, tuple(by_weight[weight]), tuple(better), sizes[weight], term))
        better.extend(by_weight[weight])
    return levels


def _holds(pairs: Sequence[tuple[str, int]]) -> QueryString:
    """The book ``walked.book_id`` holds one of ``pairs``: one index probe per pair.

    OFFSET 0 keeps it a probe per book walked: as a join, a generic plan
    might hash a whole run of postings.
    """
    return QueryString(
        "EXISTS (SELECT 1 FROM unnest({}::text[], {}::smallint[]) AS h (word, field)"
        " JOIN search_postings b ON b.word = h.word AND b.field = h.field"
        " AND b.book_id = walked.book_id OFFSET 0)",
        [word for word, _ in pairs],
        [field for _, field in pairs],
    )


def _run(word: str, field: int) -> QueryString:
    """One word's postings in one field: a range of search_postings' primary key, by id."""
    return QueryString(
        "SELECT book_id FROM search_postings WHERE word = {} AND field = {}::smallint",
        word,
        field,
    )


def _combination(
    levels: Sequence[Level], after_id: int, filters: Sequence[QueryString], limit: int
) -> list[QueryString]:
    """The first ``limit`` books after ``after_id`` whose terms sit exactly at ``levels``.

    One branch per word of the shortest run of postings, each walked in id
    order and cut at ``limit`` (so that none reads past what the page
    needs, whatever the plan). A run of one word not much longer is merge
    joined with it (both index ranges read side by side, hundreds of
    entries a page). The other terms are probed for each book found: by
    index when each is one word and no filter needs the book's row, else
    in that row (``book_search``, one read), where a term's score must be
    the level's weight: a term of several words then has none of them at a
    better level, where the book would score.
    """
    walked = min(levels, key=lambda level: (level.postings, len(level.pairs)))
    merged = [
        level
        for level in levels
        if level is not walked
        and len(level.pairs) == 1
        and len(walked.pairs) == 1
        and level.postings <= MERGE_RATIO * max(walked.postings, 1)
    ]
    conditions = [QueryString("walked.book_id > {}", after_id)]
    checked = [level for level in levels if level is not walked and level not in merged]
    in_row = [*filters]
    if filters or any(level.several_words for level in levels):
        # The book's row is read anyway: each term's level is checked there,
        # its score for the term being that level's weight (a term of
        # several words: one of them there, none at a better level).
        in_row.extend(
            QueryString(f"{{}} = {level.weight}", ranking.term_score("s", level.term))
            for level in levels
            if level in checked or level.several_words
        )
    else:
        conditions.extend(_holds(level.pairs) for level in checked)
    row_check = QueryString("TRUE")
    if in_row:
        row_check = QueryString(
            "EXISTS (SELECT 1 FROM book_search s WHERE s.book_id = found.id AND {} OFFSET 0)",
            all_of(in_row),
        )
    branches = []
    for word, field in walked.pairs:
        joined = QueryString("({}) AS walked", _run(word, field))
        for number, level in enumerate(merged):
            ((other, other_field),) = level.pairs
            joined = QueryString(
                f"{{}} JOIN ({{}}) AS m{number} ON m{number}.book_id = walked.book_id",
                joined,
                _run(other, other_field),
            )
        # OFFSET 0: the filters probe the books the join found, not every
        # posting walked (pushed down, they ran before the merge).
        branches.append(
            QueryString(
                "SELECT found.id FROM (SELECT walked.book_id AS id FROM {} WHERE {}"
                " ORDER BY walked.book_id OFFSET 0) AS found WHERE {}"
                f" {literal_limit(limit)}",
                joined,
                all_of(conditions),
                row_check,
            )
        )
    return branches


def combinations(
    terms: Sequence[ResolvedTerm], postings: dict[str, list[int]]
) -> list[tuple[int, list[tuple[Level, ...]]]]:
    """(score, its combinations of levels), best score first."""
    groups: dict[int, list[tuple[Level, ...]]] = defaultdict(list)
    for combination in product(*(levels_of(term, postings) for term in terms)):
        groups[sum(level.weight for level in combination)].append(combination)
    return sorted(groups.items(), reverse=True)


def page_by_levels(
    match: Match,
    criteria: Criteria,
    after: Relevance,
    limit: int,
    groups: list[tuple[int, list[tuple[Level, ...]]]],
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after``: one group after another.

    Each group is the union of its combinations' first ``limit`` books, the
    lowest ids kept; without parallel workers (``database.pool_options``)
    an Append reads its groups in order, and the LIMIT stops at the groups
    that fill the page: the later ones are never started.
    """
    filters = filter_conditions("s", match, criteria)
    parts = []
    for score, combos in groups:
        if score > after.score:
            continue
        after_id = after.id if score == after.score else 0
        branches = [
            branch for combo in combos for branch in _combination(combo, after_id, filters, limit)
        ]
        union = QueryString(" UNION ALL ".join("({})" for _ in branches), *branches)
        parts.append(
            QueryString(
                f"(SELECT g.id, {score} AS score FROM (SELECT DISTINCT u.id FROM ({{}}) AS u"
                f" ORDER BY u.id {literal_limit(limit)}) AS g)",
                union,
            )
        )
    if not parts:
        return QueryString("SELECT NULL::integer AS id, NULL::integer AS score WHERE FALSE")
    return QueryString(
        f"SELECT id, score FROM ({' UNION ALL '.join('{}' for _ in parts)}) AS page"
        f" {literal_limit(limit)}",
        *parts,
    )


def branches_of(groups: list[tuple[int, list[tuple[Level, ...]]]]) -> int:
    """How many index walks the statement holds (one per word walked per combination)."""
    return sum(
        len(min(combo, key=lambda level: (level.postings, len(level.pairs))).pairs)
        for _, combos in groups
        for combo in combos
    )


async def best_matches(
    db: DatabaseConnection, match: Match, criteria: Criteria, after: Relevance, limit: int
) -> QueryString | None:
    """The statement of the page by levels; None when the query has too many combinations."""
    groups = combinations(match.terms, await postings_per_field(db, match.terms))
    if branches_of(groups) > MAX_BRANCHES:
        return None
    return page_by_levels(match, criteria, after, limit, groups)
