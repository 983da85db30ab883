"""A rename locks the books it reindexes, and leaves the queued ones to the queue.

The statement triggers of 2026-11-29T03:55 reindex an author's or a
category's books when it is renamed, without locking them. Every other path
that indexes a book holds its row: an API write updates it first, and
``search_index_queued`` (2026-11-29T10:00) claims queued books ``FOR UPDATE
... SKIP LOCKED``. So a rename during an import could index a book that an
indexer pass was indexing too: both insert its ``book_search`` row, and the
second one fails on the primary key (an author's rename answered 500, a
category's 409 "already exists"), or reads the name before the other commits.

``search_index_renamed(ids)`` now locks the books (``FOR NO KEY UPDATE``, in
id order), waiting for a pass or a writer that holds one; then it indexes
those that are not queued. A queued book is left to the queue: the queue
reads the author's and categories' names when it indexes a book, and cannot
claim it before the rename commits (the book is locked), so it indexes the
new name. A book whose pass committed while the rename waited has left the
queue and is reindexed by the rename. Books of an import that was stopped
stay queued until the next import indexes them, as before.

An import batch updates its books in no particular order: a rename locking
the same books may deadlock with it. The rename's lock is retried (its
locks are released with the failed attempt, so the batch goes on) a few
times before the error is raised.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t03_55_00_000000 import FORWARDS as SET_BASED_INDEX

ID = "2026-11-29T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "renames lock the books they reindex; queued books are left to the queue"

# The books each rename trigger of 2026-11-29T03:55 reindexes.
_RENAMED_BOOKS = {
    "search_authors_renamed": """
            SELECT b.id FROM before_update o JOIN after_update n ON n.id = o.id
            JOIN books b ON b.author_id = n.id
            WHERE o.name IS DISTINCT FROM n.name""",
    "search_categories_renamed": """
            SELECT DISTINCT bc.book_id FROM before_update o JOIN after_update n ON n.id = o.id
            JOIN book_category bc ON bc.category_id = n.id
            WHERE o.name IS DISTINCT FROM n.name""",
}


def _rename_trigger(name: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_renamed(ARRAY({_RENAMED_BOOKS[name]}));
        RETURN NULL;
    END
    $$
    """


def _previous(name: str) -> str:
    statement = next(s for s in SET_BASED_INDEX if f"CREATE FUNCTION {name}()" in s)
    return statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


FORWARDS = [
    """
    CREATE FUNCTION search_index_renamed(renamed integer[]) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        deadlocks integer := 0;
    BEGIN
        IF renamed IS NULL OR cardinality(renamed) = 0 THEN
            RETURN;
        END IF;
        LOOP
            BEGIN
                PERFORM 1 FROM books WHERE id = ANY(renamed) ORDER BY id FOR NO KEY UPDATE;
                EXIT;
            EXCEPTION WHEN deadlock_detected THEN
                deadlocks := deadlocks + 1;
                IF deadlocks > 3 THEN
                    RAISE;
                END IF;
            END;
        END LOOP;
        -- A new statement: it sees what a pass we waited for committed.
        PERFORM search_index_books(ARRAY(
            SELECT r.id FROM unnest(renamed) AS r (id)
            WHERE NOT EXISTS (SELECT 1 FROM search_index_queue q WHERE q.book_id = r.id)));
    END
    $$
    """,
    *(_rename_trigger(name) for name in _RENAMED_BOOKS),
]

BACKWARDS = [
    *(_previous(name) for name in _RENAMED_BOOKS),
    "DROP FUNCTION search_index_renamed(integer[])",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
