"""Raw-SQL migrations: what Piccolo's column options cannot declare.

A raw migration is two lists of statements; this builds the
``MigrationManager`` that runs them, inside the migration's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def raw_sql_migration(
    migration_id: str,
    description: str,
    forwards: Sequence[str],
    backwards: Sequence[str],
    app_name: str = "bookstore",
) -> MigrationManager:
    """A migration running ``forwards`` (or ``backwards``) statement by statement.

    Raw callables run before the auto operations of their own migration, so
    SQL touching a table must live in a later migration than the one that
    creates it.
    """
    manager = MigrationManager(
        migration_id=migration_id, app_name=app_name, description=description
    )

    async def run(statements: Sequence[str]) -> None:
        # run_ddl joins the migration's transaction: all of it applies, or none.
        engine = engine_finder()
        for statement in statements:
            await engine.run_ddl(statement)

    async def run_forwards() -> None:
        await run(forwards)

    async def run_backwards() -> None:
        await run(backwards)

    manager.add_raw(run_forwards)
    manager.add_raw_backwards(run_backwards)
    return manager
