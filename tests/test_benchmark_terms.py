"""The benchmark's search box texts: the same catalog asks the same questions on any server."""

from __future__ import annotations

import random

import asyncpg
from conftest import TEST_DSN

from benchmarks.terms import sample_search_box_terms
from bookstore.seed import seed_synthetic

BOOKS = 2_000
SAMPLE = 200


async def _texts(connection: asyncpg.Connection) -> tuple[list[str], list[tuple[str, str]]]:
    terms = await sample_search_box_terms(connection, [], SAMPLE, random.Random(7))
    return terms.word_and_prefix, terms.title_words_in_category


async def test_the_search_box_texts_do_not_depend_on_where_the_rows_lie() -> None:
    # PostgreSQL 15 and 18 seeded with the same books keep them in different
    # orders on disk (the seed rewrites rows); the texts drawn must not follow.
    await seed_synthetic(BOOKS)
    connection = await asyncpg.connect(TEST_DSN)
    try:
        before = await _texts(connection)
        # Every other book rewritten: its row moves, and a scan meets it later.
        await connection.execute("UPDATE books SET title = title WHERE id % 2 = 0")
        await connection.execute("UPDATE book_category SET category_id = category_id")
        after = await _texts(connection)
    finally:
        await connection.close()
    assert before[0], "no q_prefix text drawn"
    assert after == before
