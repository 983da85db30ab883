"""Migration 2026-11-30T21:30: ``book_search_words_idx`` keyed by the words alone, and
no GIN index of the schema with a pending list.

The head state as a fresh migrate leaves it, and the migration giving it to a
database as 2026-11-30T17:45 left it (the words' index on ``(words,
category_ids)``, the other GIN indexes with their lists, some entries waiting
in them).
"""

from __future__ import annotations

import asyncpg
from conftest import TEST_DSN
from factories import pending_pages_cleaned, write_waiting_entries

from piccolo_migrations import bookstore_2026_11_30t21_30_00_000000 as words_only

# Every GIN index of the schema, as defined: its statement and options.
GIN_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(c.oid) AS definition, c.reloptions AS options
FROM pg_class c JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.amname = 'gin' AND c.relkind = 'i' AND n.nspname = 'public'
ORDER BY c.relname
"""

HEAD = [
    (
        "authors_name_trgm_idx",
        "CREATE INDEX authors_name_trgm_idx ON public.authors USING gin "
        "(name gin_trgm_ops) WITH (fastupdate=off)",
        ["fastupdate=off"],
    ),
    (
        "book_search_category_words_idx",
        "CREATE INDEX book_search_category_words_idx ON public.book_search USING gin "
        "(search_category_words(words, category_ids)) WITH (fastupdate=off)",
        ["fastupdate=off"],
    ),
    (
        "book_search_words_idx",
        "CREATE INDEX book_search_words_idx ON public.book_search USING gin "
        "(words) WITH (fastupdate=off)",
        ["fastupdate=off"],
    ),
    (
        "books_title_trgm_idx",
        "CREATE INDEX books_title_trgm_idx ON public.books USING gin "
        "(title gin_trgm_ops) WITH (fastupdate=off)",
        ["fastupdate=off"],
    ),
    (
        "categories_search_words_idx",
        "CREATE INDEX categories_search_words_idx ON public.categories USING gin "
        "(search_category_words((name)::text)) WITH (fastupdate=off)",
        ["fastupdate=off"],
    ),
]


async def gin_indexes(connection: asyncpg.Connection) -> list[tuple]:
    return [tuple(row) for row in await connection.fetch(GIN_INDEXES)]


async def test_a_fresh_migrate_keys_the_words_index_by_the_words_and_keeps_no_pending_list() -> (
    None
):
    connection = await asyncpg.connect(TEST_DSN)
    try:
        assert await gin_indexes(connection) == HEAD
    finally:
        await connection.close()


async def as_before(connection: asyncpg.Connection) -> None:
    """Inside ``connection``'s transaction: the indexes as 2026-11-30T17:45 left them,
    and an author, a category and twenty books written, whose entries wait in the
    lists of the indexes that have one."""
    for statement in words_only.BACKWARDS:
        await connection.execute(statement)
    await write_waiting_entries(connection)


async def test_the_migration_gives_the_indexes_as_17_45_left_them_the_head_definitions() -> None:
    connection = await asyncpg.connect(TEST_DSN)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await as_before(connection)
        before = {name: definition for name, definition, _ in await gin_indexes(connection)}
        assert before["book_search_words_idx"].endswith(
            "(words, category_ids) WITH (fastupdate=off)"
        )
        savepoint = connection.transaction()
        await savepoint.start()
        assert all(
            pages > 0
            for pages in (
                await pending_pages_cleaned(connection, words_only.OTHER_GIN_INDEXES)
            ).values()
        )
        await savepoint.rollback()

        for statement in words_only.FORWARDS:
            await connection.execute(statement)
        assert await gin_indexes(connection) == HEAD
        assert await pending_pages_cleaned(
            connection, words_only.OTHER_GIN_INDEXES
        ) == dict.fromkeys(words_only.OTHER_GIN_INDEXES, 0)
        # The words' index answers the words as before (the first ten of "Last Map n").
        found = await connection.fetchval(
            "SELECT count(*) FROM book_search WHERE words @> ARRAY['map']"
        )
        assert found == 20
    finally:
        await transaction.rollback()
        await connection.close()
