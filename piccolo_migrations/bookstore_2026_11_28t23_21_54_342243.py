"""search_logs: drop the index on created_at alone.

search_logs_created_at_id_idx (created_at, id) serves every query by time
(the admin's newest-first list, ranges of dates); the single-column index
only cost every logged search one more index insert. Piccolo drops it with
DROP INDEX IF EXISTS, so a search_logs reshaped meanwhile (partitioned, its
indexes renamed) does not stop the migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz

ID = "2026-11-28T23:21:54:342243"
VERSION = "1.38.0"
DESCRIPTION = "search_logs: drop the redundant index on created_at alone"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="bookstore", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="SearchLog",
        tablename="search_logs",
        column_name="created_at",
        db_column_name="created_at",
        params={"index": False},
        old_params={"index": True},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
