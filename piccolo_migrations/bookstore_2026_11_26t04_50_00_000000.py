"""Indexes and an extension Piccolo's column options cannot express.

Each index names the query it serves. They live in a migration of their own
because raw SQL runs before the auto operations of its own migration, and
these need the tables to exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-26T04:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pg_trgm, composite, trigram and expression indexes"

FORWARDS = [
    # Trigram indexes let `ILIKE '%fragment%'` on names use an index.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # GET /books, all filters: keyset pagination in (title, id) order.
    "CREATE INDEX books_title_id_idx ON books (title, id)",
    # GET /books?category=...: the books of a category, from the join table alone.
    "CREATE INDEX book_category_category_id_book_id_idx ON book_category (category_id, book_id)",
    # GET /books?author=...: authors whose name contains a fragment.
    "CREATE INDEX authors_name_trgm_idx ON authors USING gin (name gin_trgm_ops)",
    # GET /authors: keyset pagination in (name, id) order.
    "CREATE INDEX authors_name_id_idx ON authors (name, id)",
    # Category names are unique whatever their case; also serves ?category=<name>.
    "CREATE UNIQUE INDEX categories_lower_name_key ON categories (lower(name))",
]

BACKWARDS = [
    "DROP INDEX IF EXISTS categories_lower_name_key",
    "DROP INDEX IF EXISTS authors_name_id_idx",
    "DROP INDEX IF EXISTS authors_name_trgm_idx",
    "DROP INDEX IF EXISTS book_category_category_id_book_id_idx",
    "DROP INDEX IF EXISTS books_title_id_idx",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
