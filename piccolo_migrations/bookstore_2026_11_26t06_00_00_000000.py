"""Indexes for Piccolo Admin's queries on big tables.

piccolo-admin filters text with ``ILIKE '%fragment%'`` and counts the
matches for every list page; its search logs list is newest first. Each index
names the query it serves (measured figures in README.md, "Admin").
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-26T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "admin: books title trigram, year, price; search_logs by time"

FORWARDS = [
    # Admin books list filtered by "title contains", its count, and the book
    # picker: `title ILIKE '%river%'` (pg_trgm: 04:50 migration).
    "CREATE INDEX books_title_trgm_idx ON books USING gin (title gin_trgm_ops)",
    # Admin books list filtered by year or price (= or a range) and its
    # count: without them, a scan of every book per filtered page.
    "CREATE INDEX books_published_year_idx ON books (published_year)",
    "CREATE INDEX books_price_idx ON books (price)",
    # Admin search logs, newest first: ORDER BY created_at DESC, id DESC, a
    # deep page found by an index-only scan.
    "CREATE INDEX search_logs_created_at_id_idx ON search_logs (created_at, id)",
    # Admin search logs filtered to "found nothing" (result_count = 0), and
    # its count: the searches the catalog fails, a small share of all.
    "CREATE INDEX search_logs_zero_results_idx ON search_logs (created_at, id)"
    " WHERE result_count = 0",
]

BACKWARDS = [
    "DROP INDEX IF EXISTS search_logs_zero_results_idx",
    "DROP INDEX IF EXISTS books_price_idx",
    "DROP INDEX IF EXISTS books_published_year_idx",
    "DROP INDEX IF EXISTS search_logs_created_at_id_idx",
    "DROP INDEX IF EXISTS books_title_trgm_idx",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
