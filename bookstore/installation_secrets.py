"""Secrets of this installation: generated once, stored in the database.

The key that signs pagination cursors must be the same in every worker and
on every host, survive restarts, and be known to nobody who reads the
source. It is generated at the first ``bookstore migrate`` (or at the first
start of an installation migrated otherwise) and read once when the app
starts: a search never queries it. ``BOOKSTORE_CURSOR_SECRET`` overrides it,
e.g. to keep the cursors of an installation moved to a new database valid.

>>> await cursor_secret(get_settings())
'Xy3...'
"""

from __future__ import annotations

import secrets

from bookstore.settings import Settings
from bookstore.tables import InstallationSecret

CURSOR_SECRET = "cursor"
# 256 random bits, URL-safe: beyond guessing, and easy to copy into an
# environment variable when an operator wants to pin it.
SECRET_BYTES = 32


async def installation_secret(name: str) -> str:
    """The secret called ``name``, generated on first use.

    Concurrent first uses (several workers starting together) agree: the
    first insert wins, the others read what it wrote.
    """
    query = InstallationSecret.select(InstallationSecret.value).where(
        InstallationSecret.name == name
    )
    row = await query.first()
    if row is None:
        generated = InstallationSecret(name=name, value=secrets.token_urlsafe(SECRET_BYTES))
        await InstallationSecret.insert(generated).on_conflict(
            target=InstallationSecret.name, action="DO NOTHING"
        )
        row = await query.first()
    assert row is not None
    return str(row["value"])


async def cursor_secret(settings: Settings) -> str:
    """The key that signs cursors: ``BOOKSTORE_CURSOR_SECRET`` if set, else the stored one."""
    if settings.cursor_secret:
        return settings.cursor_secret
    return await installation_secret(CURSOR_SECRET)
