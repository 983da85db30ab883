"""Staff accounts: Piccolo's user table, created by command or for the demo."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from piccolo.apps.user.tables import BaseUser

# One thread: sign-ins wait for each other, never the searches, and a burst
# of them (right or wrong passwords) takes at most one core from the API.
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hash")


async def _hash_off_the_loop(password: str, salt: str = "", rounds: int | None = None) -> str:
    """``BaseUser.hash_password`` in the hashing thread (it releases the GIL while hashing)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, BaseUser.hash_password, password, salt, rounds)


class StaffUser(BaseUser, tablename="piccolo_user"):
    """Piccolo's ``BaseUser`` (same table), whose sign-in hashes off the event loop.

    ``BaseUser.login`` runs PBKDF2 (600,000 rounds of SHA-256, a few hundred
    milliseconds of CPU) on the event loop: every search in flight waited for
    every admin login, and a burst of logins, right or wrong, stalled the
    API. Here the hash runs in a thread of its own (``_HASHING``); the rules
    are Piccolo's: the same length limits, a hash even for an unknown
    username (so that timing does not tell which usernames exist),
    ``last_login`` updated, and an old hash upgraded to the current number
    of rounds.

    The admin must be given this class both as ``auth_table`` and in its
    table list: piccolo-admin keeps user edits to superusers only for the
    table that *is* its ``auth_table``.
    """

    @classmethod
    async def login(cls, username: str, password: str) -> int | None:
        if len(username) > cls.username.length or len(password) > cls._max_password_length:
            return None
        row = await cls.select(cls.id, cls.password).where(cls.username == username).first()
        if row is None:
            await _hash_off_the_loop(password)
            return None
        stored: str = row["password"]
        _, rounds, salt, _ = cls.split_stored_password(stored)
        candidate = await _hash_off_the_loop(password, salt, int(rounds))
        if not hmac.compare_digest(candidate, stored):
            return None
        changes: dict[object, object] = {cls.last_login: datetime.now()}
        if int(rounds) != cls._pbkdf2_iteration_count:
            changes[cls.password] = await _hash_off_the_loop(password)
        await cls.update(changes).where(cls.id == row["id"])  # type: ignore[arg-type]
        return int(row["id"])


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
