from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-28T23:11:59:923182"
VERSION = "1.38.0"
DESCRIPTION = "search_logs.q: the text of the search box"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="bookstore", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="SearchLog",
        tablename="search_logs",
        column_name="q",
        db_column_name="q",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
