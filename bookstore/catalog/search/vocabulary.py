"""Step 3: each term looked up in the catalog's vocabulary (``search_words``).

One statement for all the terms of a query: each term's stem, whether the
catalog holds it, the words within its allowed typos when it does not (one
edit away, else nearest by trigrams), the most common words starting with the
last term when the customer is still typing it, and, for a search of
several terms, each word's postings per field. A term looked up at the
catalog version this process knows is not looked up again (``kept_terms``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from piccolo.querystring import QueryString

from bookstore.catalog.search.kept_terms import KeptTerm, kept_terms
from bookstore.catalog.search.suffixes import finished_words
from bookstore.catalog.search.typos import (
    allowed_typos,
    typo_distance,
    within_typos,
)
from bookstore.catalog.search.words import ParsedQuery, Term
from bookstore.database import DatabaseConnection, fetch
from bookstore.query_text import Sql

if TYPE_CHECKING:
    from bookstore.catalog.search.levels import Level

# Nearest words read for a term missing from the vocabulary; those within
# its allowed typos are kept. A word one typo away is among the nearest few
# by trigram distance: 20 leaves a wide margin.
NEAR_WORDS = 20
# Words a prefix stands for, the most common first: "har" is "harry",
# "hard", "harbor"... The books matching any of them are searched.
PREFIX_WORDS = 20
# A typed prefix of 2 to 4 characters that begins more than 5 words has
# postings of its own (``search_prefixes``, built by ``search_rebuild``): the
# word P* ("ra*") in ``search_postings``, one per book holding one of the
# prefix's PREFIX_WORDS commonest words as frozen at the build, at the best
# field among them. Walked as one word, the completions' runs are one run:
# "last ra" met the titles holding "last" with six runs of completions (and
# read that run again for each union of four); it meets one. Writes keep the
# rows equal to the frozen words' postings, never the list itself: a list
# that no longer equals the lookup's completions is not walked
# (``ResolvedTerm.starred``). No word of the vocabulary holds the star.
STAR = "*"
# Postings counted per (word, field), at most; a longer run is estimated
# from where its COUNTED-th posting stands (``RUN_SIZE``).
COUNTED = 200
# The postings of one word in one field: counted up to COUNTED, else
# estimated from the book id of the one after (book ids spread over the
# catalog: a run whose 201st book is 1,000 holds about 201 in every 1,000).
# "beyond" is in 100,008 titles of a million, "world" in 4,095 titles and
# 139,038 books in all: the word's number of books, which stood in before,
# made the walk read "beyond" and probe 5,000 rows instead of merging the
# two runs. ``{word}``, ``{field}`` and ``{last_book}`` are SQL expressions.
RUN_SIZE = f"""(SELECT CASE WHEN count(*) <= {COUNTED} THEN count(*)
                     ELSE {COUNTED + 1}::bigint * {{last_book}} / greatest(max(r.book_id), 1) END
               FROM (SELECT p.book_id FROM search_postings p
                     WHERE p.word = {{word}} AND p.field = {{field}}
                     ORDER BY p.field, p.book_id LIMIT {COUNTED + 1}) AS r)::integer"""
# The characters a folded word is made of, for the spellings one edit away.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# A word of a book's text standing for the stem ``{stem}`` (an SQL
# expression): the first book holding it at its best field, that field's
# text split and stemmed until one matches ("dostoevski" -> "dostoevsky").
SURFACE_OF = """(
    SELECT (SELECT w FROM regexp_split_to_table(search_fold(CASE first.field
                WHEN 0 THEN b.title WHEN 1 THEN a.name
                WHEN 2 THEN (SELECT string_agg(cat.name, ' ') FROM book_category bc
                             JOIN categories cat ON cat.id = bc.category_id
                             WHERE bc.book_id = b.id)
                ELSE b.description END), '[^[:alnum:]]+') AS w
            WHERE tsvector_to_array(to_tsvector('english', w)) = ARRAY[{stem}]
            LIMIT 1)
    FROM (SELECT p.field, p.book_id FROM search_postings p WHERE p.word = {stem}
          ORDER BY p.field, p.book_id LIMIT 1) AS first
    JOIN books b ON b.id = first.book_id
    JOIN authors a ON a.id = b.author_id)"""

# One statement for every term: its stem; the vocabulary's word for it, or
# else the words one edit away (any word allowing a typo: every such
# spelling of its stem, a few hundred, probed on the primary key, and of the
# word typed when the stemmer changed it: "silves" is "silv", two edits from
# "silver", which is one from the word typed), or, for a word of 9
# or more letters allowed two typos with no word one edit away, the nearest
# words by trigrams (GiST KNN); and the commonest completions of the last
# term while it is typed; a word one edit away comes as the catalog writes
# it (what a suggestion shows). With ``counted``, each word found also comes
# with its postings per field, counted or estimated (``RUN_SIZE``: what
# ``levels`` needs to plan a walk). The typed prefix's own postings (``STAR``)
# come as one more word, counted the same way, with the list they were built
# from (``frozen``), which the prefix's completions must equal.
#
# The trigram neighbours come spelt out too, and are measured as the edits
# are (``typos.within_typos``): stem to stem, or the word typed to the word
# as written ("punishmnet", a swap in "punishment", is four edits from the
# stem "punish"). They are asked for any word allowed two typos (9 letters
# or more as typed, the contract's measure), whatever its stem's length:
# "shakspere", stem "shaksper", is "shakespeare" less two letters. Until
# session 30 only a stem of 9 letters or more, or a plural, was compared
# with them (the KNN is the dear part), and "shakspere" found nothing.
#
# A prefix that no word of the vocabulary begins may have been typed past its
# word's stem ("rowlin", while typing "rowling", is past `rowl`): it is then
# completed by the stems of the words it could be finishing
# (``suffixes.finished_words``), stemmed here as the books' words are. Any
# other prefix is completed as before: the branch reads the completions found.
#
# A long word is tried one edit away first: the nearest words are kept, so
# when one is there the trigram neighbours could add nothing (they were all
# dropped as farther), and the KNN cost 26 ms for one word at 16,500 words
# (load 5), 50 to 100 ms at 106,000, where the probes cost a few; and a
# word found by its edits comes counted
# and spelt out, where a KNN word needed two more statements (its postings,
# its spelling for the suggestion).
#
# A word is looked up as the range [x, x]: for "word = x" the planner takes
# the trigram index (pg_trgm's GiST answers equality too, at the same
# estimated cost), reading 150 pages instead of the primary key's 3; and
# "= ANY(array)" with a parameter scanned the table. Each probe is a LATERAL
# subquery with LIMIT 1, so that the generic plan probes, never hashes, and
# probes with a plain index scan: with OFFSET 0 it took a bitmap scan per
# probe, estimating 83 rows for the range, and the few hundred probes of a
# misspelt word cost a quarter more.
# The commonest words beginning the prefix typed, between ``_prefix_bounds``.
_PREFIXED = f"""SELECT w.word, w.books FROM search_words w
          WHERE w.word >= {{}} AND w.word < {{}} AND w.books > 0
          ORDER BY w.books DESC, w.word LIMIT {PREFIX_WORDS}"""
_PREFIXED_BRANCH = f"""SELECT 0, 'prefix', prefixed.word, prefixed.books, NULL
    FROM ({_PREFIXED}) AS prefixed"""
# With the words a prefix could be finishing (``suffixes.finished_words``):
# their stems stand for the prefix when no word begins it.
_PREFIXED_CTE = f""", prefixed AS MATERIALIZED (
    {_PREFIXED}
)"""
_FINISHED_BRANCHES = f"""SELECT 0, 'prefix', prefixed.word, prefixed.books, NULL FROM prefixed
  UNION ALL
    SELECT 0, 'prefix', finished.word, finished.books, NULL
    FROM (SELECT DISTINCT s.lexeme AS word, found.books
          FROM unnest({{}}::text[]) AS f (word)
          CROSS JOIN LATERAL unnest(to_tsvector('english', f.word)) AS s
          CROSS JOIN LATERAL (
              SELECT w.books FROM search_words w
              WHERE w.word >= s.lexeme AND w.word <= s.lexeme AND w.books > 0 LIMIT 1
          ) AS found
          ORDER BY found.books DESC, s.lexeme LIMIT {PREFIX_WORDS}) AS finished
    WHERE NOT EXISTS (SELECT 1 FROM prefixed)"""


def _lookup_statement(finishing: bool) -> str:
    """The lookup statement, with the branch of the words a prefix could be finishing
    (a text typed as a prefix) or without it (a text ending in a space): each node of a
    plan costs its start and end on every execution, even when a one-time filter skips
    it. One statement a shape, whatever the words, so that a connection plans it once."""
    return f"""
WITH typed AS MATERIALIZED (
    SELECT t.n::integer AS n, t.typos, t.token,
           (SELECT min(l.lexeme) FROM unnest(to_tsvector('english', t.token)) AS l) AS lexeme
    FROM unnest({{}}::text[], {{}}::integer[]) WITH ORDINALITY AS t (token, typos, n)
), exact AS MATERIALIZED (
    SELECT typed.n, typed.typos, typed.token, typed.lexeme, found.books
    FROM typed LEFT JOIN LATERAL (
        SELECT w.books FROM search_words w
        WHERE w.word >= typed.lexeme AND w.word <= typed.lexeme AND w.books > 0 LIMIT 1
    ) AS found ON TRUE
), edits AS MATERIALIZED (
    SELECT exact.n, spelling.word, found.books
    FROM exact
    CROSS JOIN LATERAL (
        SELECT DISTINCT e.word
        FROM unnest(CASE WHEN exact.token = exact.lexeme THEN ARRAY[exact.lexeme]
                         ELSE ARRAY[exact.lexeme, exact.token] END) AS s (source)
        CROSS JOIN LATERAL (
            SELECT left(s.source, i) || substr(s.source, i + 2)
            FROM generate_series(0, length(s.source) - 1) AS i
          UNION ALL
            SELECT left(s.source, i) || substr(s.source, i + 2, 1)
                   || substr(s.source, i + 1, 1) || substr(s.source, i + 3)
            FROM generate_series(0, length(s.source) - 2) AS i
          UNION ALL
            SELECT left(s.source, i) || c || substr(s.source, i + 2)
            FROM generate_series(0, length(s.source) - 1) AS i,
                 unnest(string_to_array('{_ALPHABET}', NULL)) AS c
          UNION ALL
            SELECT left(s.source, i) || c || substr(s.source, i + 1)
            FROM generate_series(0, length(s.source)) AS i,
                 unnest(string_to_array('{_ALPHABET}', NULL)) AS c
        ) AS e (word)
        WHERE e.word <> exact.lexeme
    ) AS spelling
    CROSS JOIN LATERAL (
        SELECT w.books FROM search_words w
        WHERE w.word >= spelling.word AND w.word <= spelling.word AND w.books > 0 LIMIT 1
    ) AS found
    WHERE exact.typos >= 1 AND exact.lexeme IS NOT NULL AND exact.books IS NULL
){_PREFIXED_CTE if finishing else ""}, candidates AS (
    SELECT exact.n, 'lexeme' AS kind, exact.lexeme AS word, exact.books, NULL::text[] AS frozen
    FROM exact
  UNION ALL
    SELECT edits.n, 'edit', edits.word, edits.books, NULL FROM edits
  UNION ALL
    SELECT exact.n, 'near', near.word, near.books, NULL
    FROM exact CROSS JOIN LATERAL (
        SELECT w.word, w.books FROM search_words w WHERE w.books > 0
        ORDER BY w.word <-> exact.lexeme LIMIT {NEAR_WORDS}
    ) AS near
    WHERE exact.typos > 1 AND exact.books IS NULL
      AND NOT EXISTS (SELECT 1 FROM edits WHERE edits.n = exact.n)
  UNION ALL
    {_FINISHED_BRANCHES if finishing else _PREFIXED_BRANCH}
  UNION ALL
    SELECT 0, 'starred', starred.prefix || '{STAR}', 0, starred.words
    FROM search_prefixes starred WHERE starred.prefix = {{}}
){{}}
SELECT {{}}c.n, c.kind, c.word, c.books,
       CASE WHEN {{}} AND c.books IS NOT NULL AND c.kind <> 'near' THEN ARRAY(
           SELECT {RUN_SIZE.format(word="c.word", field="f.field", last_book="top.id")}
           FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS f (field) ORDER BY f.field)
       END AS postings,
       CASE WHEN c.kind IN ('edit', 'near') THEN {SURFACE_OF.format(stem="c.word")}
       END AS surface,
       c.frozen,
       top.id AS top_book, top.version AS lookup_version
FROM candidates c,
     (SELECT max(book_id) AS id, (SELECT version FROM catalog_version) AS version
      FROM book_search) AS top{{}}
"""


_LOOKUP = _lookup_statement(finishing=False)
_LOOKUP_FINISHING = _lookup_statement(finishing=True)


# The filters' lookup alone, for a search whose terms are all kept, with the
# version it was read at (to keep it under).
_ALONGSIDE_ALONE = "SELECT {}, (SELECT version FROM catalog_version) AS lookup_version"


class Variant(NamedTuple):
    """A word of the vocabulary standing for a term, and what it costs in ranking.

    A named tuple: the lookup makes one per word (a prefix's twenty
    completions), and a frozen dataclass costs three times as much to make.
    """

    word: str
    inexact: bool  # corrected, or completed from a prefix
    books: int = 0  # how many books hold it (search_words.books)
    # Its postings in each field (title, author, categories, description),
    # counted up to COUNTED, else estimated; None when not counted.
    postings: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ResolvedTerm:
    """A term and the words of the vocabulary it stands for.

    Its word lists are computed once per term (``cached_property`` writes the
    instance's ``__dict__``, which a frozen dataclass allows, and the fields
    never change): the level planner asked ``inexact`` once per walk, a
    prefix's twenty completions walked in many combinations rebuilt the
    tuple some 3,000 times a q_prefix search's page (2026-11-30). A term is
    kept with its lookup (``kept_terms``), so later searches reuse them too.
    """

    term: Term
    lexeme: str | None  # None: a stop word ("the", "of"), which matches nothing
    variants: tuple[Variant, ...]
    correction: str | None = None  # the word a typo was corrected to
    surface: str | None = None  # the correction as the catalog writes it, when known
    # The typed prefix's own postings (``STAR``: "ra*"), its postings per
    # field counted as a variant's: present only when the words they were
    # built from are the term's completions now, as sets, and every inexact
    # word of the term is one of them. Its runs then stand for the
    # completions' (``levels.levels_of``).
    starred: Variant | None = None

    @cached_property
    def exact(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants if not v.inexact)

    @cached_property
    def inexact(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants if v.inexact)

    @cached_property
    def inexact_words(self) -> frozenset[str]:
        """``inexact`` as a set, and the prefix's own word (``starred``): whether a word
        walked is inexact, asked once per walk.

        A posting of the prefix's own word in a field tells that a word of its
        list sits there at its best: a completion, or the exact word, whose
        weight there is higher and wins the term's score either way.
        """
        if self.starred is not None:
            return frozenset((*self.inexact, self.starred.word))
        return frozenset(self.inexact)

    @cached_property
    def words(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants)

    @cached_property
    def books(self) -> int:
        """Books holding a word of the term, at most (a book holding two counts twice).

        Summed once per term: the planners (``plans``) ask it of each
        term some four times a search.
        """
        return sum(v.books for v in self.variants)

    @cached_property
    def planned_levels(self) -> list[tuple[Level, ...]]:
        """The term's levels once ``levels.kept_levels`` has planned them (empty before).

        A slot, not the levels themselves: they are planned from postings
        this module does not count, and only when the term is met in a
        search of several terms.
        """
        return []


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """The range of words (collation "C") starting with ``prefix``."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def look_up_query(
    db: DatabaseConnection,
    query: ParsedQuery,
    *,
    alongside: QueryString | None = None,
    alongside_key: Hashable | None = None,
    known_version: int | None = None,
) -> tuple[list[ResolvedTerm], Mapping[str, Any]]:
    """``query``'s terms resolved (``look_up_terms_alongside``) as a search of a text
    resolves them: the last one also as a prefix while it is typed, and, for several
    terms, counted, since their search plans its level walk from the words' postings per
    field (``levels``).

    The search and its completions (``suggest``, whose titles are the
    search's first page) both ask through here, so that they take the same
    kept terms: a term kept uncounted is looked up again by a search that
    counts.
    """
    return await look_up_terms_alongside(
        db,
        query.terms,
        prefix=query.prefix,
        counted=len(query.terms) > 1,
        alongside=alongside,
        alongside_key=alongside_key,
        known_version=known_version,
    )


async def look_up_terms_alongside(
    db: DatabaseConnection,
    terms: Sequence[Term],
    *,
    prefix: bool,
    counted: bool = False,
    alongside: QueryString | None = None,
    alongside_key: Hashable | None = None,
    known_version: int | None = None,
) -> tuple[list[ResolvedTerm], Mapping[str, Any]]:
    """Resolve each term to the words of the vocabulary it stands for, in one statement,
    with the values of the columns ``alongside``.

    A term found as it is stands for itself only: a word that matches
    exactly is never "corrected". Else it stands for the nearest words
    within its allowed typos (those at the least distance). The last term,
    when ``prefix``, also stands for the most common words it starts.
    ``counted``: each word comes with its postings per field (``Variant.postings``).

    ``alongside``: the columns of a one-row lookup with no other round trip
    of its own to make (``filters.criteria_lookup``: a search's categories
    and authors), computed once and carried by every row of the terms.
    Each statement sent is one more wait for the server under load: a
    category's lookup alone cost 0.27 ms of execution and 3 to 5 ms of
    round trip at load 7. The values also hold ``top_book``, the highest
    book id indexed: about the catalog's size, which ``plans`` weighs a
    category against.

    ``known_version``: the catalog version this process knows the catalog
    to be at (``bookstore.catalog_version``). Terms resolved at that version
    are taken from memory (``kept_terms``) and only the others are looked
    up; with none to look up, ``alongside`` alone is asked, or nothing: its
    values are kept at that version too, under ``alongside_key`` (what they
    depend on; None: not kept).
    """
    kept = kept_terms()
    last = len(terms) - 1
    keys = [(term.folded, prefix and n == last) for n, term in enumerate(terms)]
    held = [kept.held(known_version, key, counted=counted) for key in keys]
    missing = [n for n, found in enumerate(held) if found is None]
    found: Mapping[str, Any]
    if not missing:
        found = {"top_book": kept.top_book}
        if alongside is not None:
            values = None
            if alongside_key is not None:
                values = kept.alongside.held(known_version, alongside_key)
            if values is None:
                (row,) = await fetch(db, Sql(_ALONGSIDE_ALONE, alongside))
                values = dict(row.items())
                if alongside_key is not None:
                    kept.alongside.keep(values["lookup_version"], alongside_key, values)
            found = {**values, "top_book": kept.top_book}
        return [
            _from_kept(term, entry) for term, entry in zip(terms, held, strict=True) if entry
        ], found
    asked = [terms[n] for n in missing]
    typed_last = prefix and missing[-1] == last
    looked_up, found = await _look_up(db, asked, typed_last, counted, alongside)
    kept.keep(
        found.get("lookup_version"),
        found.get("top_book"),
        (
            (
                keys[n],
                KeptTerm(r.lexeme, r.variants, r.correction, r.surface, counted, r, r.starred),
            )
            for n, r in zip(missing, looked_up, strict=True)
        ),
    )
    if alongside is not None and alongside_key is not None and found:
        kept.alongside.keep(found["lookup_version"], alongside_key, dict(found.items()))
    fresh = dict(zip(missing, looked_up, strict=True))
    resolved = [
        fresh[n] if entry is None else _from_kept(term, entry)
        for n, (term, entry) in enumerate(zip(terms, held, strict=True))
    ]
    return resolved, found


def _from_kept(term: Term, kept: KeptTerm) -> ResolvedTerm:
    """The kept resolution of ``term``: the one first resolved when typed the same way.

    A ``ResolvedTerm`` never changes (its cached word lists and levels
    depend on its fields alone), so every request may share it.
    """
    if kept.resolved is not None and kept.resolved.term == term:
        return kept.resolved
    return ResolvedTerm(
        term, kept.lexeme, kept.variants, kept.correction, kept.surface, kept.starred
    )


async def _look_up(
    db: DatabaseConnection,
    terms: Sequence[Term],
    prefix: bool,
    counted: bool,
    alongside: QueryString | None,
) -> tuple[list[ResolvedTerm], Mapping[str, Any]]:
    """The lookup statement for ``terms``: their resolutions and the row's other values."""
    typos = [allowed_typos(term.folded) for term in terms]
    low, high = _prefix_bounds(terms[-1].folded) if prefix else (None, None)
    # Three slots of the statement: the one-row CTE, its columns, its join.
    slots = [Sql(""), Sql(""), Sql("")]
    if alongside is not None:
        slots = [
            Sql(", alongside AS MATERIALIZED (SELECT {})", alongside),
            Sql("alongside.*, "),
            Sql(", alongside"),
        ]
    rows = await fetch(
        db,
        Sql(
            _LOOKUP_FINISHING if prefix else _LOOKUP,
            [term.folded for term in terms],
            typos,
            low,
            high,
            *([finished_words(terms[-1].folded)] if prefix else []),
            # The prefix's own postings serve the page by levels only.
            low if counted else None,
            slots[0],
            slots[1],
            counted,
            slots[2],
        ),
    )
    found: Mapping[str, Any] = rows[0] if rows else {}
    return _resolve_rows(terms, rows, typos, prefix), found


def _resolve_rows(
    terms: Sequence[Term], rows: Sequence[Mapping[str, Any]], typos: list[int], prefix: bool
) -> list[ResolvedTerm]:
    """The terms resolved from the lookup's rows (see ``look_up_terms_alongside``)."""
    lexemes: dict[int, tuple[str | None, int | None, tuple[int, ...] | None]] = {}
    candidates: dict[int, list[tuple[str, int, tuple[int, ...] | None, bool]]] = defaultdict(list)
    surfaces: dict[str, str] = {}
    starred: Variant | None = None
    frozen: frozenset[str] = frozenset()
    for row in rows:
        postings = tuple(row["postings"]) if row["postings"] is not None else None
        kind = row["kind"]
        if kind == "starred":
            starred = Variant(row["word"], inexact=True, books=0, postings=postings)
            frozen = frozenset(row["frozen"])
        elif kind == "lexeme":
            lexemes[row["n"]] = (row["word"], row["books"], postings)
        else:
            edit = kind == "edit"
            candidates[row["n"]].append((row["word"], row["books"], postings, edit))
        if row["surface"]:
            surfaces[row["word"]] = row["surface"]
    # The commonest completions first, as the statement ordered them.
    expansions = sorted(candidates.pop(0, []), key=lambda found: (-found[1], found[0]))
    resolved = []
    for n, term in enumerate(terms, start=1):
        variants: list[Variant] = []
        correction = None
        lexeme, books, postings = lexemes[n]
        if lexeme is not None and books is not None:
            variants.append(Variant(lexeme, inexact=False, books=books, postings=postings))
        elif lexeme is not None and candidates[n]:
            limit = typos[n - 1]
            # A spelling the statement made by one edit of the lexeme or of the
            # word typed is one typo away; a trigram neighbour is ranked as far
            # as its stem. Each must be within the typos of the stem, or of the word
            # typed against the word as written (``typos.within_typos``), the
            # stem measured for itself: "silver", one edit of "silves", is two
            # from its stem "silv", and is kept as written "silver".
            within = []
            for word, books, postings, edit in candidates[n]:
                stem_typos = typo_distance(lexeme, word, limit)
                if within_typos(term.folded, lexeme, word, stem_typos, surfaces.get(word)):
                    within.append((1 if edit else stem_typos, -books, word, books, postings))
            within.sort()
            if within:
                best, _, correction, _, _ = within[0]
                variants.extend(
                    Variant(word, inexact=True, books=books, postings=postings)
                    for distance, _, word, books, postings in within
                    if distance == best
                )
        own = None
        if prefix and term is terms[-1]:
            known = {v.word for v in variants}
            variants.extend(
                Variant(word, inexact=True, books=books, postings=postings)
                for word, books, postings, _ in expansions
                if word not in known
            )
            own = _starred(starred, frozen, expansions, variants)
        surface = surfaces.get(correction) if correction else None
        resolved.append(ResolvedTerm(term, lexeme, tuple(variants), correction, surface, own))
    return resolved


def _starred(
    starred: Variant | None,
    frozen: frozenset[str],
    expansions: Sequence[tuple[str, int, tuple[int, ...] | None, bool]],
    variants: Sequence[Variant],
) -> Variant | None:
    """The prefix's own postings (``ResolvedTerm.starred``), when they stand for its
    completions: built from the same words as sets (a write since the build may have
    moved a word into the commonest twenty or out), and no inexact word of the term
    outside them."""
    if starred is None or starred.postings is None:
        return None
    if frozenset(word for word, *_ in expansions) != frozen:
        return None
    if any(v.inexact and v.word not in frozen for v in variants):
        return None
    return starred


_SURFACE = f"""
SELECT c.stem, {SURFACE_OF.format(stem="c.stem")} AS word,
       (SELECT version FROM catalog_version) AS lookup_version
FROM unnest({{}}::text[]) AS c (stem)
"""


async def surface_words(
    db: DatabaseConnection, stems: Sequence[str], *, known_version: int | None = None
) -> dict[str, str]:
    """A word as the catalog writes it for each stem ("dostoevski" -> "dostoevsky").

    The vocabulary holds stems; a suggestion shows a word a customer would
    type. Folded (lower case, no accents), as the query is. A stem with no
    book left is absent. ``known_version``: as for ``look_up_terms_alongside``;
    a stem spelt out at that version is not asked again (``kept_terms``),
    and those asked are kept under the version read in the same statement.
    """
    surfaces = kept_terms().surfaces
    words = surfaces.held_all(known_version, set(stems))
    missing = sorted(set(stems) - set(words))
    if missing:
        for row in await fetch(db, Sql(_SURFACE, missing)):
            if row["word"]:
                words[row["stem"]] = row["word"]
                surfaces.keep(row["lookup_version"], row["stem"], row["word"])
    return words
