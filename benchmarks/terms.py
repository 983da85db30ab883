"""Search terms drawn from the benchmark database itself.

Requests must ask for things that exist, in the proportions a store sees:
the fragments a customer types for an author, categories large and small,
combinations that have results, books that exist. Sampling is seeded
(``setseed``), so two runs over the same catalog ask the same questions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import asyncpg

# How many of each kind of term; paths are picked from these at random.
SAMPLE_SIZE = 500
BIGGEST_CATEGORIES = 10


@dataclass(frozen=True)
class SampledTerms:
    """Terms for every scenario, each list non-empty."""

    author_fragments: list[str]
    category_slugs: list[str]
    biggest_category_slugs: list[str]
    author_category_pairs: list[tuple[str, str]]
    book_ids: list[int]


def typed_fragment(author_name: str, rng: random.Random) -> str:
    """What a customer types for an author: part of the name, not all of it.

    Synthetic names read "Yusuf Garcia 12044"; half the fragments are the
    last word ("12044"), half the last two, lower-cased ("garcia 12044").

    >>> typed_fragment("Yusuf Garcia 12044", random.Random(1))
    '12044'
    """
    words = author_name.split()
    if len(words) < 2 or rng.random() < 0.5:
        return words[-1]
    return " ".join(words[-2:]).lower()


async def sample_terms(dsn: str, *, size: int = SAMPLE_SIZE, seed: int = 7) -> SampledTerms:
    """Sample terms from the catalog at ``dsn``; fails if the catalog is empty."""
    rng = random.Random(seed)
    connection = await asyncpg.connect(dsn)
    try:
        # Makes random() below repeatable from run to run.
        await connection.execute("SELECT setseed(0.42)")
        names = await connection.fetch("SELECT name FROM authors ORDER BY random() LIMIT $1", size)
        slugs = await connection.fetch(
            "SELECT slug FROM categories ORDER BY random() LIMIT $1", size
        )
        biggest = await connection.fetch(
            """
            SELECT c.slug FROM categories c JOIN book_category bc ON bc.category_id = c.id
            GROUP BY c.id, c.slug ORDER BY count(*) DESC, c.id LIMIT $1
            """,
            BIGGEST_CATEGORIES,
        )
        # A book's author and one of its categories: the pair has results.
        pairs = await connection.fetch(
            """
            SELECT a.name, c.slug
            FROM (SELECT id, author_id FROM books ORDER BY random() LIMIT $1) AS b
            JOIN authors a ON a.id = b.author_id
            JOIN LATERAL (SELECT category_id FROM book_category
                          WHERE book_id = b.id ORDER BY random() LIMIT 1) AS bc ON TRUE
            JOIN categories c ON c.id = bc.category_id
            """,
            size,
        )
        book_ids = await connection.fetch("SELECT id FROM books ORDER BY random() LIMIT $1", size)
    finally:
        await connection.close()
    terms = SampledTerms(
        author_fragments=[typed_fragment(row["name"], rng) for row in names],
        category_slugs=[row["slug"] for row in slugs],
        biggest_category_slugs=[row["slug"] for row in biggest],
        author_category_pairs=[(typed_fragment(row["name"], rng), row["slug"]) for row in pairs],
        book_ids=[row["id"] for row in book_ids],
    )
    empty = [name for name, values in vars(terms).items() if not values]
    if empty:
        raise SystemExit(f"the benchmark catalog has nothing to sample for: {', '.join(empty)}")
    return terms
