"""Step 3: each term looked up in the catalog's vocabulary (``search_words``).

One statement for all the terms of a query: each term's stem, whether the
catalog holds it, the nearest words of the vocabulary when it does not
(GiST trigram index, nearest first), and the most common words starting
with the last term when the customer is still typing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from piccolo.querystring import QueryString

from bookstore.catalog.search.typos import allowed_typos, typo_distance
from bookstore.catalog.search.words import Term
from bookstore.database import DatabaseConnection, fetch

# Nearest words read for a term missing from the vocabulary; those within
# its allowed typos are kept. A word one typo away is among the nearest few
# by trigram distance: 20 leaves a wide margin.
NEAR_WORDS = 20
# Words a prefix stands for, the most common first: "har" is "harry",
# "hard", "harbor"... The books matching any of them are searched.
PREFIX_WORDS = 20

# A word is looked up as the range [word, word]: for "word = x" the planner
# takes the trigram index (pg_trgm's GiST answers equality too, at the same
# estimated cost), reading 150 pages instead of the primary key's 3; the
# trigram index has no range operators.
_LOOKUP = f"""
SELECT typed.n, typed.lexeme,
       (SELECT w.books FROM search_words w
        WHERE w.word >= typed.lexeme AND w.word <= typed.lexeme AND w.books > 0) AS books,
       near.words AS near_words, near.books AS near_books
FROM (
    SELECT t.n, t.near, (SELECT min(l.lexeme) FROM unnest(to_tsvector('english', t.token)) AS l)
               AS lexeme
    FROM unnest({{}}::text[], {{}}::boolean[]) WITH ORDINALITY AS t (token, near, n)
) AS typed
LEFT JOIN LATERAL (
    SELECT array_agg(w.word ORDER BY w.distance, w.word) AS words,
           array_agg(w.books ORDER BY w.distance, w.word) AS books
    FROM (SELECT word, books, word <-> typed.lexeme AS distance FROM search_words
          WHERE books > 0 ORDER BY word <-> typed.lexeme LIMIT {NEAR_WORDS}) AS w
    WHERE typed.near AND typed.lexeme IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM search_words e
                      WHERE e.word >= typed.lexeme AND e.word <= typed.lexeme
                        AND e.books > 0)
) AS near ON TRUE
UNION ALL
SELECT 0, NULL, NULL, array_agg(prefixed.word ORDER BY prefixed.books DESC, prefixed.word),
       array_agg(prefixed.books ORDER BY prefixed.books DESC, prefixed.word)
FROM (SELECT word, books FROM search_words WHERE word >= {{}} AND word < {{}} AND books > 0
      ORDER BY books DESC, word LIMIT {PREFIX_WORDS}) AS prefixed
ORDER BY 1
"""


@dataclass(frozen=True)
class Variant:
    """A word of the vocabulary standing for a term, and what it costs in ranking."""

    word: str
    inexact: bool  # corrected, or completed from a prefix
    books: int = 0  # how many books hold it (search_words.books)


@dataclass(frozen=True)
class ResolvedTerm:
    term: Term
    lexeme: str | None  # None: a stop word ("the", "of"), which matches nothing
    variants: tuple[Variant, ...]
    correction: str | None = None  # the word a typo was corrected to

    @property
    def exact(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants if not v.inexact)

    @property
    def inexact(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants if v.inexact)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(v.word for v in self.variants)


# The characters a folded word is made of, for the spellings one edit away.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def one_edit(word: str) -> set[str]:
    """Every spelling one typo away from ``word``: a letter deleted, swapped with its
    neighbour, replaced or inserted (a few hundred for a word of 5 to 8 letters).

    >>> "volume" in one_edit("golume") and "volume" in one_edit("vloume")
    True
    """
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deleted = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaced = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserted = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deleted | swapped | replaced | inserted) - {word}


async def _one_edit_away(
    db: DatabaseConnection, lexemes: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """For each stem, the words of the vocabulary one edit away, with their books.

    Every spelling one edit away is looked up on the primary key, a few
    hundred probes: a word of 5 to 8 letters allows one typo, and trigram
    nearest-neighbour search over 100,000 words cost 50 to 100 ms a term.
    """
    if not lexemes:
        return {}
    spellings = {lexeme: one_edit(lexeme) for lexeme in lexemes}
    rows = await fetch(
        db,
        QueryString(
            # One probe of the primary key per spelling (the range form, as
            # in _LOOKUP); "= ANY(array)" with a parameter scanned the table.
            "SELECT w.word, w.books FROM unnest({}::text[]) AS e (word)"
            " JOIN search_words w ON w.word >= e.word AND w.word <= e.word AND w.books > 0",
            sorted(set().union(*spellings.values())),
        ),
    )
    found = {row["word"]: row["books"] for row in rows}
    return {
        lexeme: [(word, found[word]) for word in sorted(edits) if word in found]
        for lexeme, edits in spellings.items()
    }


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """The range of words (collation "C") starting with ``prefix``."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def look_up_terms(
    db: DatabaseConnection, terms: Sequence[Term], *, prefix: bool
) -> list[ResolvedTerm]:
    """Resolve each term to the words of the vocabulary it stands for.

    A term found as it is stands for itself only: a word that matches
    exactly is never "corrected". Else it stands for the nearest words
    within its allowed typos (those at the least distance). The last term,
    when ``prefix``, also stands for the most common words it starts.
    """
    tokens = [term.folded for term in terms]
    # Words allowed two typos are looked for among their nearest by trigrams;
    # one typo, among the spellings one edit away (below).
    near = [allowed_typos(term.folded) > 1 for term in terms]
    low, high = _prefix_bounds(terms[-1].folded) if prefix else (None, None)
    rows = await fetch(db, QueryString(_LOOKUP, tokens, near, low, high))
    expansions = list(zip(rows[0]["near_words"] or [], rows[0]["near_books"] or [], strict=True))
    one_edit = await _one_edit_away(
        db,
        [
            row["lexeme"]
            for term, row in zip(terms, rows[1:], strict=True)
            if allowed_typos(term.folded) == 1
            and row["lexeme"] is not None
            and row["books"] is None
        ],
    )
    resolved = []
    for term, row in zip(terms, rows[1:], strict=True):
        variants: list[Variant] = []
        correction = None
        lexeme = row["lexeme"]
        candidates = list(zip(row["near_words"] or [], row["near_books"] or [], strict=True))
        if lexeme in one_edit and allowed_typos(term.folded) == 1:
            candidates = one_edit[lexeme]
        if lexeme is not None and row["books"] is not None:
            variants.append(Variant(lexeme, inexact=False, books=row["books"]))
        elif lexeme is not None and candidates:
            limit = allowed_typos(term.folded)
            scored = [
                (typo_distance(lexeme, word, limit), -books, word, books)
                for word, books in candidates
            ]
            within = sorted(entry for entry in scored if entry[0] <= limit)
            if within:
                best = within[0][0]
                variants.extend(
                    Variant(word, inexact=True, books=books)
                    for d, _, word, books in within
                    if d == best
                )
                correction = within[0][2]
        if prefix and term is terms[-1]:
            known = {v.word for v in variants}
            variants.extend(
                Variant(word, inexact=True, books=books)
                for word, books in expansions
                if word not in known
            )
        resolved.append(ResolvedTerm(term, lexeme, tuple(variants), correction))
    return resolved


# A word of a book's text standing for each stem: the first book holding it
# at its best field, that field's text split and stemmed until one matches.
_SURFACE = """
SELECT c.stem, (
    SELECT w FROM regexp_split_to_table(search_fold(CASE first.field
            WHEN 0 THEN b.title WHEN 1 THEN a.name
            WHEN 2 THEN (SELECT string_agg(cat.name, ' ') FROM book_category bc
                         JOIN categories cat ON cat.id = bc.category_id
                         WHERE bc.book_id = b.id)
            ELSE b.description END), '[^[:alnum:]]+') AS w
    WHERE tsvector_to_array(to_tsvector('english', w)) = ARRAY[c.stem]
    LIMIT 1) AS word
FROM unnest({}::text[]) AS c (stem)
CROSS JOIN LATERAL (SELECT p.field, p.book_id FROM search_postings p WHERE p.word = c.stem
                    ORDER BY p.field, p.book_id LIMIT 1) AS first
JOIN books b ON b.id = first.book_id
JOIN authors a ON a.id = b.author_id
"""


async def surface_words(db: DatabaseConnection, stems: Sequence[str]) -> dict[str, str]:
    """A word as the catalog writes it for each stem ("dostoevski" -> "dostoevsky").

    The vocabulary holds stems; a suggestion shows a word a customer would
    type. Folded (lower case, no accents), as the query is. A stem with no
    book left is absent.
    """
    rows = await fetch(db, QueryString(_SURFACE, sorted(set(stems))))
    return {row["stem"]: row["word"] for row in rows if row["word"]}
