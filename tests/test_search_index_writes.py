"""Migration 2026-11-30T17:45: the GIN indexes of ``book_search``, and TRUNCATE of the links.

Both GIN indexes get the definition a fresh migrate gives them (the head's, in
tests/test_gin_indexes.py) on a database whose indexes had a pending list
(``book_search_category_words_idx`` as migrated between 19b60ef and e7e28ad,
``book_search_words_idx`` before this migration); ``TRUNCATE book_category``
(alone, or by ``TRUNCATE categories CASCADE``) leaves the index as a rebuild would.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from conftest import TEST_DSN
from factories import (
    create_author,
    create_book,
    create_category,
    pending_pages_cleaned,
    search,
    titles,
    write_waiting_entries,
)
from test_search_prefixes import functions

from bookstore.tables import Book
from piccolo_migrations import bookstore_2026_11_30t17_45_00_000000 as index_writes

# The GIN indexes over the search tables, as defined: their statement and options.
GIN_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(c.oid) AS definition, c.reloptions AS options
FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid JOIN pg_am a ON a.oid = c.relam
WHERE a.amname = 'gin' AND x.indrelid IN ('book_search'::regclass, 'search_postings'::regclass)
ORDER BY c.relname
"""

# A book of the index, every column, and its postings: what a rebuild must give again.
INDEX_ROWS = {
    "books": "SELECT * FROM book_search ORDER BY book_id",
    "postings": "SELECT word, field, book_id FROM search_postings ORDER BY word, field, book_id",
    "words": "SELECT word, books FROM search_words WHERE books > 0 ORDER BY word",
}


async def gin_indexes(connection: asyncpg.Connection) -> list[tuple]:
    return [tuple(row) for row in await connection.fetch(GIN_INDEXES)]


async def index_rows() -> dict[str, list[dict]]:
    return {name: await Book.raw(sql) for name, sql in INDEX_ROWS.items()}


# The GIN indexes of book_search: a database migrated between 19b60ef and
# e7e28ad has the category words' with a pending list; the words' has had
# one since 2026-11-30T00:00 made it.
PENDING_LIST_INDEXES = ("book_search_category_words_idx", "book_search_words_idx")


async def with_pending_lists(connection: asyncpg.Connection) -> None:
    """Inside ``connection``'s transaction: the indexes as made with a pending list, and
    twenty books written, whose entries wait in the lists."""
    for statement in index_writes.BACKWARDS:
        await connection.execute(statement)
    for name in PENDING_LIST_INDEXES:
        await connection.execute(f"ALTER INDEX {name} RESET (fastupdate)")
    await write_waiting_entries(connection)


async def test_an_index_made_with_a_pending_list_keeps_new_entries_in_it() -> None:
    # What the test below starts from: without the migration, the lists hold pages.
    connection = await asyncpg.connect(TEST_DSN)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await with_pending_lists(connection)
        assert all(
            pages > 0
            for pages in (await pending_pages_cleaned(connection, PENDING_LIST_INDEXES)).values()
        )
    finally:
        await transaction.rollback()
        await connection.close()


async def test_the_migration_gives_an_index_made_with_a_pending_list_the_head_definition() -> None:
    connection = await asyncpg.connect(TEST_DSN)
    transaction = connection.transaction()
    await transaction.start()
    try:
        head = await gin_indexes(connection)
        head_functions = await functions(connection)
        await with_pending_lists(connection)
        assert await gin_indexes(connection) != head
        for statement in index_writes.FORWARDS:
            await connection.execute(statement)
        assert await gin_indexes(connection) == head
        assert await functions(connection) == head_functions
        assert await pending_pages_cleaned(connection, PENDING_LIST_INDEXES) == {
            name: 0 for name in PENDING_LIST_INDEXES
        }
        # Again on an index that has it already (a fresh migrate's): nothing changes.
        for statement in index_writes.WITHOUT_PENDING_LISTS:
            await connection.execute(statement)
        assert await gin_indexes(connection) == head
    finally:
        await transaction.rollback()
        await connection.close()


@pytest.fixture
async def shelf(client: httpx.AsyncClient) -> dict:
    """Books in categories: Mystery and Harbour Tales, one in both, one in none."""
    author = await create_author(client, "Ann Lee")
    mystery = await create_category(client, "Mystery")
    harbour = await create_category(client, "Harbour Tales")
    books = [
        await create_book(client, title="Last Map", author_id=author["id"], category_ids=ids)
        for ids in ([mystery["id"]], [mystery["id"], harbour["id"]], [harbour["id"]], [])
    ]
    return {"books": books, "mystery": mystery, "harbour": harbour}


@pytest.mark.parametrize("statement", ["TRUNCATE book_category", "TRUNCATE categories CASCADE"])
async def test_truncating_the_links_leaves_no_book_indexed_in_a_category(
    client: httpx.AsyncClient, shelf: dict, statement: str
) -> None:
    assert len((await search(client, "last map", category="mystery"))["items"]) == 2
    assert len((await search(client, "harbour"))["items"]) == 2
    await Book.raw(statement)
    kept = await index_rows()
    assert [row["category_ids"] for row in kept["books"]] == [[], [], [], []]
    assert [row["categories"] for row in kept["books"]] == [[], [], [], []]
    await Book.raw("SELECT search_rebuild()")
    assert await index_rows() == kept
    if statement == "TRUNCATE book_category":  # the categories are still there
        assert titles(await search(client, "last map", category="mystery")) == []
    assert titles(await search(client, "harbour")) == []
    assert len((await search(client, "last map"))["items"]) == 4


async def test_truncating_the_links_with_the_books_empties_the_index(shelf: dict) -> None:
    await Book.raw("TRUNCATE book_category, books CASCADE")
    assert await index_rows() == {"books": [], "postings": [], "words": []}
