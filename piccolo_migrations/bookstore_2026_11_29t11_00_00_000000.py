"""search_rebuild() advances the catalog version once the index is rebuilt.

Rebuilding writes ``book_search``, ``search_postings`` and ``search_words``
only, which no version trigger watches (as with the import's indexing,
2026-11-29T10:45): a ``?q=`` answer the response cache kept before a
rebuild (one that lacked the books a stopped import had left queued, say)
was served after it until the next write to the catalog.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t10_00_00_000000 import FORWARDS as QUEUE

ID = "2026-11-29T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_rebuild() advances the catalog version"

# search_rebuild() as 2026-11-29T10:00 made it.
_REBUILD = next(statement for statement in QUEUE if "FUNCTION search_rebuild()" in statement)
_BODY_END = "\n    END\n    $$"
assert _REBUILD.count(_BODY_END) == 1

FORWARDS = [
    _REBUILD.replace(_BODY_END, "\n        PERFORM catalog_version_advance();" + _BODY_END),
]

BACKWARDS = [_REBUILD]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
