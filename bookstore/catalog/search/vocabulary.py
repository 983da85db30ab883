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

_LOOKUP = f"""
SELECT typed.n, typed.lexeme,
       (SELECT w.books FROM search_words w WHERE w.word = typed.lexeme AND w.books > 0) AS books,
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
      AND NOT EXISTS (SELECT 1 FROM search_words e WHERE e.word = typed.lexeme AND e.books > 0)
) AS near ON TRUE
UNION ALL
SELECT 0, NULL, NULL, ARRAY(
    SELECT word FROM search_words WHERE word >= {{}} AND word < {{}} AND books > 0
    ORDER BY books DESC, word LIMIT {PREFIX_WORDS}), NULL
ORDER BY 1
"""


@dataclass(frozen=True)
class Variant:
    """A word of the vocabulary standing for a term, and what it costs in ranking."""

    word: str
    inexact: bool  # corrected, or completed from a prefix


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
    near = [allowed_typos(term.folded) > 0 for term in terms]
    low, high = _prefix_bounds(terms[-1].folded) if prefix else (None, None)
    rows = await fetch(db, QueryString(_LOOKUP, tokens, near, low, high))
    expansions: list[str] = rows[0]["near_words"] or []
    resolved = []
    for term, row in zip(terms, rows[1:], strict=True):
        variants: list[Variant] = []
        correction = None
        lexeme = row["lexeme"]
        if lexeme is not None and row["books"] is not None:
            variants.append(Variant(lexeme, inexact=False))
        elif lexeme is not None and row["near_words"]:
            limit = allowed_typos(term.folded)
            scored = [
                (typo_distance(lexeme, word, limit), -books, word)
                for word, books in zip(row["near_words"], row["near_books"], strict=True)
            ]
            within = sorted(entry for entry in scored if entry[0] <= limit)
            if within:
                best = within[0][0]
                variants.extend(Variant(word, inexact=True) for d, _, word in within if d == best)
                correction = within[0][2]
        if prefix and term is terms[-1]:
            known = {v.word for v in variants}
            variants.extend(
                Variant(word, inexact=True) for word in expansions if word not in known
            )
        resolved.append(ResolvedTerm(term, lexeme, tuple(variants), correction))
    return resolved
