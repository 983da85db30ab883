"""API tokens: who may write to the catalog.

Writes to ``/books``, ``/authors`` and ``/categories`` need
``Authorization: Bearer <token>``; reads stay public. A token has a name (who
or what holds it: ``shop-importer``, ``ci``), is shown once when created and
is stored only as its SHA-256, so the table alone lets nobody write.

>>> token = await create_token("shop-importer")
>>> await verify_token(token)
'shop-importer'
>>> await revoke_token("shop-importer")
True
>>> await verify_token(token) is None
True

Tokens never go through logging: the console of ``bookstore token create``
(and of ``bookstore serve --demo``) is the only place one is ever shown.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from asyncpg.exceptions import UniqueViolationError
from piccolo.querystring import QueryString

from bookstore.errors import Conflict, NotFound
from bookstore.tables import ApiToken

# 256 random bits: beyond guessing, whatever the hash's speed (see hash_token).
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; a longer credential is not one of ours,
# and is refused before it is hashed.
MAX_TOKEN_LENGTH = 256
DEMO_TOKEN_NAME = "demo"
# Names are typed on the command line and shown in listings: no spaces, quotes
# or control characters.
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token, never its hash."""

    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def check_token_name(name: str) -> str:
    """``name`` if it is a valid token name, else ValueError (with a console-ready message)."""
    if not TOKEN_NAME.fullmatch(name):
        raise ValueError(
            f"invalid token name {name!r}: 1 to 100 letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def hash_token(token: str) -> str:
    """The SHA-256 of ``token`` in hex: what ``api_tokens.token_hash`` stores.

    Unsalted and fast on purpose. Salts and slow hashes (bcrypt, argon2)
    protect low-entropy secrets, passwords, from offline guessing against a
    stolen table; a token is 256 random bits, which no guessing rate can
    cover, so they would add nothing. A plain hash also lets a request find
    its token with one index lookup on ``token_hash``, instead of hashing the
    candidate once per stored salt.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_token(name: str) -> str:
    """A new token named ``name``: returns the token, which is stored hashed only.

    The caller shows it once; it cannot be recovered afterwards. Raises
    Conflict when the name is taken, by an active or a revoked token (a
    revoked token keeps its row as a record of who held it).
    """
    check_token_name(name)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        await ApiToken.insert(ApiToken(name=name, token_hash=hash_token(token)))
    except UniqueViolationError as error:
        if error.constraint_name == "api_tokens_name_key":
            raise Conflict(f"a token named {name!r} already exists") from None
        raise
    return token


async def create_demo_token() -> str | None:
    """A token named ``demo``, or None when one exists (its value was shown at its creation)."""
    if await ApiToken.exists().where(ApiToken.name == DEMO_TOKEN_NAME):
        return None
    try:
        return await create_token(DEMO_TOKEN_NAME)
    except Conflict:  # another process created it meanwhile
        return None


async def revoke_token(name: str) -> bool:
    """Revoke the token named ``name``: True if it was active, False if already revoked.

    Raises NotFound when no token has that name.
    """
    revoked = (
        await ApiToken.update({ApiToken.revoked_at: QueryString("clock_timestamp()")})
        .where(ApiToken.name == name, ApiToken.revoked_at.is_null())
        .returning(ApiToken.id)
    )
    if revoked:
        return True
    if await ApiToken.exists().where(ApiToken.name == name):
        return False
    raise NotFound(f"no token named {name!r}")


async def list_tokens() -> list[TokenInfo]:
    """Every token's name and dates, by name; revoked ones included."""
    columns = (ApiToken.name, ApiToken.created_at, ApiToken.revoked_at)
    rows = await ApiToken.select(*columns).order_by(ApiToken.name)
    return [TokenInfo(**row) for row in rows]


async def verify_token(token: str) -> str | None:
    """The name of the active token ``token``, or None (unknown, revoked, malformed).

    Timing is safe without ``hmac.compare_digest``: the database compares
    SHA-256 digests, never the token. How long the index lookup takes can at
    most tell an attacker how many leading digits of the hash of *their own*
    guess match a stored hash, and getting closer in hash space brings no
    guess closer to a token (that would take a preimage).
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (
        await ApiToken.select(ApiToken.name)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_null())
        .first()
    )
    return None if row is None else str(row["name"])
