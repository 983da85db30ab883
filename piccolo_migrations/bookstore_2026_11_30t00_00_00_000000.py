"""``book_search.category_ids`` beside ``words`` in one GIN index: words and category, one scan.

A search in a category (``GET /books?q=...&category=...``) needs the books
holding every term that are in the category. The level walk reads the
terms' postings until a page is in the category, and the meeting reads the
category's links or probes them per posting of the rarest term: both read
what the category and the terms hold apart, when few books hold both
("empire memory volume" in poetry at 1M books: 17 books, some 42,000
postings walked). A GIN index answers an AND of its keys by advancing each
key past the others' current item, skipping along its posting trees, so
with the book's categories beside its words in one multicolumn GIN index,
the terms and the category meet inside one index scan that never reads the
category whole (docs/performance-journal.md, "The terms and the category
in one GIN scan").

- ``book_search.category_ids``: the book's categories, in id order, kept
  by ``search_index_books`` (every write to ``book_category`` reindexes its
  books) and ``search_rebuild``, from the same links that give the
  category words.
- ``book_search_words_idx`` becomes ``GIN (words, category_ids)``. A
  multicolumn GIN index serves any subset of its columns, so the searches
  without a category keep their plans.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration, replaced, statement_of
from piccolo_migrations.bookstore_2026_11_29t10_00_00_000000 import FORWARDS as QUEUED_INDEX
from piccolo_migrations.bookstore_2026_11_29t11_00_00_000000 import FORWARDS as VERSION_ADVANCED

ID = "2026-11-30T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_search.category_ids in book_search_words_idx: GIN (words, category_ids)"


# Both statements already say CREATE OR REPLACE FUNCTION.
_INDEX_BOOKS = statement_of(QUEUED_INDEX, "FUNCTION search_index_books(")
# As 2026-11-29T11:00 left it: it advances the catalog version.
_REBUILD = statement_of(VERSION_ADVANCED, "FUNCTION search_rebuild()")

# Both functions insert the rows with the same projection; each reads the
# links its own way (by the book's key, or all of them grouped).
_ROWS = (
    (
        "(book_id, author_id, title, author, categories, description, words, document)",
        "(book_id, author_id, title, author, categories, description, words, document,\n"
        "             category_ids)",
    ),
    (
        "               title || author || description || categories\n",
        "               title || author || description || categories, category_ids\n",
    ),
    (
        "SELECT b.id AS book_id, b.author_id,",
        "SELECT b.id AS book_id, b.author_id,\n"
        "                   coalesce(links.ids, '{}') AS category_ids,",
    ),
)

FORWARDS = [
    # The index builds below as the seed builds its own (``bookstore.seed``),
    # for this transaction only: with the default 64 MB the GIN index came
    # out at 150 MB at 1M books, 80 MB with 512 MB.
    "SET LOCAL maintenance_work_mem = '512MB'",
    # Dropped before the table is rewritten below, and built once after.
    "DROP INDEX book_search_words_idx",
    # A constant default: no rewrite.
    "ALTER TABLE book_search ADD COLUMN category_ids integer[] NOT NULL DEFAULT '{}'",
    """
    CREATE FUNCTION search_category_ids_of(book integer) RETURNS integer[]
    LANGUAGE sql STABLE AS $$
        SELECT coalesce(array_agg(category_id ORDER BY category_id), '{}')
        FROM book_category WHERE book_id = book
    $$
    """,
    # Filled by a rewrite of the table, not an UPDATE: an UPDATE leaves every
    # row's old version behind (1.8 GB for 918 MB at 1M books, and the GIN
    # index built over both, 115 MB for 80), which neither VACUUM (not in a
    # transaction) nor CLUSTER (the old versions are this transaction's
    # own) can reclaim here, and autovacuum may be off. The rewrite writes
    # the rows once, each one's links read by their (book_id, category_id)
    # key, and rebuilds the primary key.
    "ALTER TABLE book_search ALTER COLUMN category_ids TYPE integer[]"
    " USING search_category_ids_of(book_id)",
    "DROP FUNCTION search_category_ids_of(integer)",
    "CREATE INDEX book_search_words_idx ON book_search USING gin (words, category_ids)",
    replaced(
        _INDEX_BOOKS,
        *_ROWS,
        (
            "' ' ORDER BY bc.category_id) AS names",
            "' ' ORDER BY bc.category_id) AS names,\n"
            "                       array_agg(bc.category_id ORDER BY bc.category_id) AS ids",
        ),
    ),
    replaced(
        _REBUILD,
        *_ROWS,
        (
            "string_agg(c.name, ' ' ORDER BY c.id) AS names",
            "string_agg(c.name, ' ' ORDER BY c.id) AS names,\n"
            "                       array_agg(c.id ORDER BY c.id) AS ids",
        ),
    ),
    "ANALYZE book_search",
]

BACKWARDS = [
    "DROP INDEX book_search_words_idx",
    "CREATE INDEX book_search_words_idx ON book_search USING gin (words)",
    _REBUILD,
    _INDEX_BOOKS,
    "ALTER TABLE book_search DROP COLUMN category_ids",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
