"""The catalog version is taken before a write statement touches its rows.

Every statement that writes books, authors, categories or book_category
bumps the one ``catalog_version`` row (2026-11-29T02:30), which its
transaction then holds until it commits: writers take turns. The bump ran
AFTER the statement, so a writer locked its rows first and the version
last, while a rename locks the version first (its own bump) and then the
books it reindexes (2026-11-29T10:30). An edit of one of an author's books
meeting that author's rename waited for the version while holding the book
the rename waited for: a deadlock, and PostgreSQL cancelled one of them,
answered 500 (tests/test_concurrent_writes.py). Bumped BEFORE the
statement, every writer takes the version first, so a writer holding books
is never waiting for it; writes that lock a book before they write (an
edit with If-Match) take the version first themselves
(``bookstore.catalog.writes``). The bump is the same number, announced at
commit as before; a statement that fails undoes it with its transaction.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t02_30_00_000000 import CATALOG_TABLES

ID = "2026-11-29T11:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the catalog version is bumped before a write statement, not after"


def _bump_trigger(table: str, when: str) -> list[str]:
    return [
        f"DROP TRIGGER catalog_version_bump ON {table}",
        f"""
        CREATE TRIGGER catalog_version_bump
        {when} INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump()
        """,
    ]


FORWARDS = [statement for table in CATALOG_TABLES for statement in _bump_trigger(table, "BEFORE")]

BACKWARDS = [statement for table in CATALOG_TABLES for statement in _bump_trigger(table, "AFTER")]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
