"""The search index's writes: GIN indexes without a pending list; TRUNCATE of the links reindexes.

A GIN index with a pending list (``fastupdate``, PostgreSQL's default) puts
a write's entries in a list that every scan reads whole, until autovacuum
or the insert that takes it past ``gin_pending_list_limit`` (4 MB) moves
them into the index. At 1M books, with 450 pages listed, a search's
PostgreSQL CPU went x2 to x3 (q_words, q_prefix, on ``book_search_words_idx``)
and x5 (q_filtered, on ``book_search_category_words_idx``); autovacuum
visits ``book_search`` only after some 200,000 changed rows, so the list
stays until it fills. Without it, a write inserts into the index itself:
``POST /books`` cost the same PostgreSQL CPU within the spread of paired
runs (docs/performance-journal.md, "GIN indexes without a pending list").

- ``book_search_category_words_idx`` was created with a pending list by
  migration ``2026-11-30T15:30`` as landed (19b60ef); e7e28ad then edited
  that migration to create it with ``fastupdate = off``. A database
  migrated in between kept the list: it is given the definition a fresh
  migrate gives (a no-op where it has it already).
- ``book_search_words_idx`` (migration ``2026-11-30T00:00``) loses its list too.

``SET (fastupdate = off)`` alone stops new entries going to a list but
leaves the old ones: ``gin_clean_pending_list`` moves them into the index.

``TRUNCATE book_category`` (or ``TRUNCATE categories CASCADE``, which
empties it) fires no row trigger, so ``book_search`` kept each book's
category ids, category names and their words, and a search in a category
still found books no longer in it. A statement-level trigger now rebuilds
the index when the truncated links leave any book indexed with categories
(``search_rebuild()``; at 1M books, minutes: the TRUNCATE of every link is
a change to every book). Truncated with ``books``, ``book_search`` is
already empty (the CASCADE) and the trigger does nothing.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-30T17:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "GIN indexes of book_search without a pending list; TRUNCATE book_category reindexes"

LINKS_TRUNCATED = """
CREATE FUNCTION search_links_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Only the books indexed with categories change; TRUNCATE books empties
    -- book_search first (its CASCADE), and an empty catalog needs nothing.
    IF EXISTS (SELECT 1 FROM book_search WHERE category_ids <> '{}') THEN
        PERFORM search_rebuild();
    END IF;
    RETURN NULL;
END
$$
"""

# The GIN indexes over book_search (search_postings has none).
GIN_INDEXES = ("book_search_words_idx", "book_search_category_words_idx")

# Idempotent: on an index that has no pending list, nothing changes.
WITHOUT_PENDING_LISTS = [
    statement
    for index in GIN_INDEXES
    for statement in (
        f"ALTER INDEX {index} SET (fastupdate = off)",
        f"SELECT gin_clean_pending_list('{index}')",
    )
]

FORWARDS = [
    *WITHOUT_PENDING_LISTS,
    LINKS_TRUNCATED,
    """
    CREATE TRIGGER search_links_truncated AFTER TRUNCATE ON book_category
    FOR EACH STATEMENT EXECUTE FUNCTION search_links_truncated()
    """,
]

BACKWARDS = [
    "DROP TRIGGER search_links_truncated ON book_category",
    "DROP FUNCTION search_links_truncated()",
    # As 2026-11-30T00:00 created it. book_search_category_words_idx stays as
    # 2026-11-30T15:30 creates it, without a pending list.
    "ALTER INDEX book_search_words_idx RESET (fastupdate)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
