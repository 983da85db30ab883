"""Bulk writes index their books once, and the vocabulary's counts move in one statement.

A transaction may index its books once, itself, instead of per statement.

The statement-level triggers of 2026-11-29T03:55 reindex the books each
statement touched. An import batch writes a new book with two statements
(the book, then its category links), so every new book was indexed twice,
the second time deleting what the first had just written: at 1,000 books a
batch, most of the import's time. A transaction that sets
``bookstore.search_index_deferred`` to ``on`` for itself (``set_config(...,
true)``, gone at commit or rollback) skips the four triggers and must call
``search_index_books(ids)`` for the books it changed before it commits
(``bookstore.catalog.imports`` does, once per batch). Nothing else sets it,
so every other writer keeps the triggers.

``search_index_books`` moves the vocabulary's counts with one ``INSERT ...
ON CONFLICT DO UPDATE`` in word order, instead of locking the words with a
range join and then updating and inserting them. Under the function's
``enable_hashjoin = off`` the range join was planned from the table's
statistics; on a young vocabulary (an import into an empty catalog: the
statistics still said a few thousand words) PostgreSQL chose to compare
every word with every changed word, 21 s for a batch of 1,000 new books.
ON CONFLICT finds each word by the primary key whatever the statistics say,
and locks the words in the same order (``COLLATE "C"``, the column's) as
``search_unindex_book`` does, so two writers still cannot deadlock.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t03_55_00_000000 import (
    FORWARDS as SET_BASED_INDEX,
)

ID = "2026-11-29T05:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search index triggers skipped by a transaction that indexes its books itself"

# The four trigger functions of 2026-11-29T03:55, with the guard first.
_TRIGGER_BODIES = {
    "search_books_inserted": "PERFORM search_index_books(ARRAY(SELECT id FROM inserted));",
    "search_books_updated": """PERFORM search_index_books(ARRAY(
            SELECT n.id FROM before_update o JOIN after_update n ON n.id = o.id
            WHERE o.title IS DISTINCT FROM n.title
               OR o.description IS DISTINCT FROM n.description
               OR o.author_id IS DISTINCT FROM n.author_id));""",
    "search_links_inserted": (
        "PERFORM search_index_books(ARRAY(SELECT DISTINCT book_id FROM inserted));"
    ),
    "search_links_deleted": (
        "PERFORM search_index_books(ARRAY(SELECT DISTINCT book_id FROM deleted));"
    ),
}


def _trigger_function(name: str, *, guarded: bool) -> str:
    guard = "IF search_index_deferred() THEN RETURN NULL; END IF;" if guarded else ""
    return f"""
    CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {guard}
        {_TRIGGER_BODIES[name]}
        RETURN NULL;
    END
    $$
    """


_OLD_COUNTS = """
        -- Words reached one by one on the primary key, as the range [x, x]:
        -- "word = ANY(array)" scanned all 106,000 words (75 ms a book at 1M),
        -- and "word = x" can take pg_trgm's GiST index, which answers it too.
        PERFORM 1 FROM unnest(change_words) AS c (word)
        JOIN search_words w ON w.word >= c.word AND w.word <= c.word
        ORDER BY w.word FOR UPDATE OF w;
        UPDATE search_words w SET books = w.books + c.change
        FROM unnest(change_words, changes) AS c (word, change)
        WHERE w.word >= c.word AND w.word <= c.word;
        INSERT INTO search_words (word, books)
        SELECT c.word, c.change FROM unnest(change_words, changes) AS c (word, change)
        WHERE NOT EXISTS (SELECT 1 FROM search_words w
                          WHERE w.word >= c.word AND w.word <= c.word)
        ORDER BY c.word
        ON CONFLICT (word) DO UPDATE SET books = search_words.books + excluded.books;
"""

_NEW_COUNTS = """
        -- Each word by the primary key (ON CONFLICT's arbiter, whatever the
        -- statistics say), locked in the column's order.
        INSERT INTO search_words (word, books)
        SELECT c.word, c.change FROM unnest(change_words, changes) AS c (word, change)
        ORDER BY c.word COLLATE "C"
        ON CONFLICT (word) DO UPDATE SET books = search_words.books + excluded.books;
"""


def _index_books(counts: str) -> str:
    """``search_index_books`` of 2026-11-29T03:55, with ``counts`` moving the vocabulary."""
    statement = next(
        s for s in SET_BASED_INDEX if "CREATE FUNCTION search_index_books(" in s
    )
    if _OLD_COUNTS not in statement:
        raise RuntimeError("search_index_books is not the one this migration replaces")
    return statement.replace(_OLD_COUNTS, counts).replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
    )


FORWARDS = [
    _index_books(_NEW_COUNTS),
    """
    CREATE FUNCTION search_index_deferred() RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT coalesce(current_setting('bookstore.search_index_deferred', true), '') = 'on'
    $$
    """,
    *(_trigger_function(name, guarded=True) for name in _TRIGGER_BODIES),
]

BACKWARDS = [
    _index_books(_OLD_COUNTS),
    *(_trigger_function(name, guarded=False) for name in _TRIGGER_BODIES),
    "DROP FUNCTION search_index_deferred()",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
