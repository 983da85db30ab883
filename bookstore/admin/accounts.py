"""Staff accounts: Piccolo's ``BaseUser``, created by command or for the demo."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from piccolo.apps.user.tables import BaseUser


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


DEMO_ADMIN_USERNAME = "admin"


async def create_admin_user(username: str, password: str, email: str | None = None) -> BaseUser:
    """An active superuser, who can sign in to the admin and manage staff.

    Raises ValueError, with a message fit for the console, when the username
    is taken or Piccolo refuses the password (6 to 128 characters).
    """
    if await BaseUser.exists().where(BaseUser.username == username):
        raise ValueError(f"a user named {username!r} already exists")
    # piccolo_user.email is NOT NULL and unique: a placeholder per user.
    return await BaseUser.create_user(
        username=username,
        password=password,
        email=email or f"{username}@localhost",
        admin=True,
        superuser=True,
        active=True,
    )


async def create_demo_admin() -> Credentials | None:
    """On a database without users, an admin with a fresh random password.

    Returns the credentials for the caller to show once, or None when any
    user exists. Never a fixed password: a demo left running must not be an
    open door.
    """
    if await BaseUser.count() > 0:
        return None
    credentials = Credentials(DEMO_ADMIN_USERNAME, secrets.token_urlsafe(16))
    await create_admin_user(credentials.username, credentials.password)
    return credentials
