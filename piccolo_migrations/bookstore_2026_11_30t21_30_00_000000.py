"""``book_search_words_idx`` back to ``GIN (words)``; no GIN index keeps a pending list.

- ``book_search_words_idx`` became ``GIN (words, category_ids)`` in migration
  ``2026-11-30T00:00``, for a scan with the category sets among its keys.
  Since session 28 a search in a category reads
  ``book_search_category_words_idx`` (its terms qualified by the category),
  and the scan with the categories as keys was removed in session 29
  (06f8e4b): no statement has a key of ``category_ids`` any more, yet every
  book write inserted its categories' entries. The column stays: it is
  ``book_search_category_words_idx``'s expression
  (``search_category_words(words, category_ids)``), the check of a search's
  other category sets (``candidates.in_category_sets``) and the test of
  ``search_links_truncated()``.
- ``books_title_trgm_idx``, ``authors_name_trgm_idx`` and
  ``categories_search_words_idx`` lose their pending list, as the indexes of
  ``book_search`` did in ``2026-11-30T17:45`` (its docstring: a list is read
  whole by every scan until autovacuum or a full list moves it). Every book
  write adds to the title's list (13 pages a 150 books), which the admin's
  "title contains" reads: its count x1.15 after 3,000 books; a ``POST
  /books`` without it cost x1.03 to x1.07 of PostgreSQL CPU, within the
  spread of alternated runs. The authors' and the categories' are written
  only by their own rare writes.

At 1M books (PG15 copies of ``bench_1m``, 2026-11-30): the words' index
80.1 -> 74.8 MB; the pages and plans of every search shape unchanged.

On a live catalog, in the migration's transaction: the new index is built
under another name while the old one serves the searches (``CREATE INDEX``
holds a ``SHARE`` lock: reads go on, writes to ``book_search`` wait), then
the old one is dropped and the new one renamed, which holds an ``ACCESS
EXCLUSIVE`` lock only from the drop to the commit. At 1M books the
migration took 13.3 and 14.8 s on PG15 (docs/performance-journal.md,
"book_search_words_idx without the categories"): book writes wait that
long, searches do not.
``CREATE INDEX CONCURRENTLY`` would not block the writes, but it cannot run
in a transaction; outside one a failure leaves an invalid index to clean
by hand, and the migration's statements could not be tried and rolled back
in a test.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-30T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_search_words_idx: GIN (words); no GIN index with a pending list"

# The GIN indexes beside book_search's two (whose lists 2026-11-30T17:45 removed).
OTHER_GIN_INDEXES = (
    "books_title_trgm_idx",
    "authors_name_trgm_idx",
    "categories_search_words_idx",
)

# Idempotent: on an index that has no pending list, nothing changes.
WITHOUT_PENDING_LISTS = [
    statement
    for index in OTHER_GIN_INDEXES
    for statement in (
        f"ALTER INDEX {index} SET (fastupdate = off)",
        f"SELECT gin_clean_pending_list('{index}')",
    )
]


def _words_index(columns: str) -> list[str]:
    """``book_search_words_idx`` rebuilt on ``columns``, without a pending list: built
    beside the old one, which is then dropped and replaced by it."""
    return [
        # As 2026-11-30T00:00 and the seed build it: with the default 64 MB a
        # GIN index of the words came out at 150 MB at 1M books, 80 MB with 512 MB.
        "SET LOCAL maintenance_work_mem = '512MB'",
        f"CREATE INDEX book_search_words_new_idx ON book_search USING gin ({columns})"
        " WITH (fastupdate = off)",
        "DROP INDEX book_search_words_idx",
        "ALTER INDEX book_search_words_new_idx RENAME TO book_search_words_idx",
    ]


FORWARDS = [*_words_index("words"), *WITHOUT_PENDING_LISTS]

BACKWARDS = [
    # As 2026-11-30T17:45 left it.
    *_words_index("words, category_ids"),
    *(f"ALTER INDEX {index} RESET (fastupdate)" for index in OTHER_GIN_INDEXES),
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
