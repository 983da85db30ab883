"""Bearer tokens for writes and the search log: ``dependencies=[WriteToken]``.

Catalog reads stay public; a POST, PATCH or DELETE on ``/books``,
``/authors`` or ``/categories`` needs ``Authorization: Bearer <token>``
naming an active token (``bookstore token create NAME``), and so does
reading ``/search-logs`` (``LogReaderToken``): the log holds what customers
typed. Anything else answers 401 ``{"detail": ...}`` with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750).

>>> @router.post("", dependencies=[WriteToken], responses=UNAUTHORIZED)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bookstore import tokens
from bookstore.schemas import ErrorOut

# auto_error=False: FastAPI's own error would be 403 or a bare 401; this
# module answers every failure itself, with one body and one challenge.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="WriteToken",
    description=(
        "A token from `bookstore token create NAME`; needed by every write and to read "
        "the search logs."
    ),
)

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": "No valid `Authorization: Bearer <token>` header.",
    }
}
"""The 401 of routes that need a token, for their ``responses=`` in the OpenAPI document."""


def _unauthorized(detail: str, challenge: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": challenge},
    )


async def _require_token(credentials: HTTPAuthorizationCredentials | None, needed_for: str) -> str:
    """The name of the request's token; 401 when it is missing, unknown or revoked.

    The message never says which of unknown and revoked it was, nor echoes
    the token.
    """
    if credentials is None:
        # Missing, empty, or another scheme (Basic ...): no error code, per RFC 6750 §3.1.
        raise _unauthorized(
            f"{needed_for} an API token: send `Authorization: Bearer <token>`", "Bearer"
        )
    name = await tokens.verify_token(credentials.credentials)
    if name is None:
        raise _unauthorized("the API token is invalid or revoked", 'Bearer error="invalid_token"')
    return name


async def require_write_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    return await _require_token(credentials, "writes need")


async def require_log_reader_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    return await _require_token(credentials, "the search logs need")


WriteToken = Depends(require_write_token)
LogReaderToken = Depends(require_log_reader_token)
