"""catalog_version_advance(): the catalog version moved by a write that no trigger sees.

Since 2026-11-29T10:00 an import's books are indexed for the search box
after their batch has committed, by writes to ``book_search`` only, which
bump no version. A ``?q=`` answer cached between a batch's commit and the
indexing of its books (``bookstore.response_cache``) lacked them until the
next write to the catalog, and after an import's last pass there may be
none. The importer now advances the version once its books are indexed,
with this function; the statement trigger of 2026-11-29T02:30 calls it too,
so the version moves in one place.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t02_30_00_000000 import FORWARDS as VERSION_TRIGGER

ID = "2026-11-29T10:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "catalog_version_advance(): the version moved by the importer once its books are indexed"
)

FORWARDS = [
    """
    CREATE FUNCTION catalog_version_advance() RETURNS bigint
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
        RETURN bumped;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION catalog_version_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM catalog_version_advance();
        RETURN NULL;
    END
    $$
    """,
]

BACKWARDS = [
    # The trigger function as 2026-11-29T02:30 made it.
    next(
        statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        for statement in VERSION_TRIGGER
        if "CREATE FUNCTION catalog_version_bump()" in statement
    ),
    "DROP FUNCTION catalog_version_advance()",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
