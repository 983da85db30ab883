"""Raw-SQL migrations: what Piccolo's column options cannot declare.

A raw migration is two lists of statements; this builds the
``MigrationManager`` that runs them, inside the migration's transaction.
A migration that changes a function takes the statement an earlier
migration created it with and edits it, so that the change reads as the
difference and its backwards puts the earlier statement back::

    _REBUILD = statement_of(EARLIER.FORWARDS, "FUNCTION search_rebuild()")
    FORWARDS = [or_replace(replaced(_REBUILD, ("old text", "new text")))]
    BACKWARDS = [or_replace(_REBUILD)]
"""

from __future__ import annotations

from collections.abc import Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def statement_of(statements: Sequence[str], part: str) -> str:
    """The first of ``statements`` that contains ``part`` (e.g. ``"FUNCTION f("``)."""
    return next(statement for statement in statements if part in statement)


def replaced(statement: str, *pairs: tuple[str, str]) -> str:
    """``statement`` with each ``(old, new)`` of ``pairs`` replaced, in order.

    Each ``old`` must occur exactly once when its turn comes: an earlier
    migration whose text moved fails here, at import, rather than leaving a
    function unchanged.
    """
    for old, new in pairs:
        if statement.count(old) != 1:
            raise RuntimeError(f"not the statement this migration replaces: {old!r}")
        statement = statement.replace(old, new)
    return statement


def or_replace(statement: str) -> str:
    """A ``CREATE FUNCTION`` statement as ``CREATE OR REPLACE FUNCTION``: it redefines one."""
    return replaced(statement, ("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))


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
