"""Migrations build the whole schema on an empty database, and match the tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "piccolo_migrations"


def piccolo(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "piccolo.main", *args],
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrations_apply_on_an_empty_database_and_leave_nothing_to_autogenerate(
    empty_database: str,
) -> None:
    forwards = piccolo(empty_database, "migrations", "forwards", "bookstore")
    assert forwards.returncode == 0, forwards.stdout + forwards.stderr

    before = set(MIGRATIONS.iterdir())
    auto = piccolo(empty_database, "migrations", "new", "bookstore", "--auto")
    created = set(MIGRATIONS.iterdir()) - before
    for path in created:  # never leave a stray migration behind
        path.unlink()
    assert not created, f"the tables differ from the migrations:\n{auto.stdout}"
    assert "No changes detected" in auto.stdout + auto.stderr


async def test_migrations_can_be_rolled_back_and_reapplied(empty_database: str) -> None:
    assert piccolo(empty_database, "migrations", "forwards", "bookstore").returncode == 0
    backwards = piccolo(
        empty_database, "migrations", "backwards", "bookstore",
        "--migration_id=all", "--auto_agree",
    )  # fmt: skip
    assert backwards.returncode == 0, backwards.stdout + backwards.stderr
    again = piccolo(empty_database, "migrations", "forwards", "bookstore")
    assert again.returncode == 0, again.stdout + again.stderr
