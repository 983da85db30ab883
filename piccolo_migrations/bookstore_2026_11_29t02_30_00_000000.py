"""catalog_version: one number that moves with every write to the catalog.

Each API process keeps listing and search responses in memory, keyed by
this number (``bookstore.catalog_version``, ``bookstore.response_cache``),
and builds the listings' ETags from it. Any statement that writes books,
authors, categories or book_category, through the API, the admin, an
import or psql, bumps it once (statement-level triggers: a bulk import of a
million rows bumps it once per statement, not per row) and announces the
new value on the ``catalog_version`` channel; NOTIFY is delivered at
commit, so no process sees the number before the data it stands for.

The number is at least the time of the write in milliseconds since 1970,
so that it keeps growing after a backup is restored: an ETag handed out
before the restore can never name a response after it.

The row is locked by the first write of a transaction until it commits:
writers to the catalog take turns, which a catalog (written rarely, read
all day) can afford.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T02:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalog_version: bumped and announced by every write to the catalog"

CATALOG_TABLES = ("books", "authors", "categories", "book_category")

FORWARDS = [
    """
    CREATE TABLE catalog_version (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        version bigint NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    INSERT INTO catalog_version (version)
    VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    """,
    """
    CREATE FUNCTION catalog_version_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        bumped bigint;
    BEGIN
        UPDATE catalog_version
        SET version = greatest(version + 1,
                               (extract(epoch FROM clock_timestamp()) * 1000)::bigint),
            changed_at = clock_timestamp()
        RETURNING version INTO bumped;
        PERFORM pg_notify('catalog_version', bumped::text);
        RETURN NULL;
    END
    $$
    """,
    *(
        f"""
        CREATE TRIGGER catalog_version_bump
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_bump()
        """
        for table in CATALOG_TABLES
    ),
]

BACKWARDS = [
    *(f"DROP TRIGGER catalog_version_bump ON {table}" for table in CATALOG_TABLES),
    "DROP FUNCTION catalog_version_bump()",
    "DROP TABLE catalog_version",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
