"""admin_login_attempts: the admin's login rate limit, shared by every worker.

One row per client address: its current window, the attempts in it, and
until when it is blocked (``bookstore.admin.login_limit``). Not a Piccolo
table: only that module's SQL reads it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T03:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "admin_login_attempts: login rate limit across workers"

FORWARDS = [
    """
    CREATE TABLE admin_login_attempts (
        client text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        attempts integer NOT NULL,
        blocked_until timestamptz
    )
    """,
]

BACKWARDS = ["DROP TABLE admin_login_attempts"]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
