"""Bearer tokens for writes and the search log: ``dependencies=[WriteToken]``.

Catalog reads stay public; a POST, PATCH or DELETE on ``/books``,
``/authors`` or ``/categories`` needs ``Authorization: Bearer <token>``
naming an active token (``bookstore token create NAME``), and so does
reading ``/search-logs`` (``LogReaderToken``): the log holds what customers
typed. Anything else answers 401 ``{"detail": ...}`` with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750).

>>> router = APIRouter(prefix="/books", route_class=TokenFirstRoute)
>>> @router.post("", dependencies=[WriteToken], responses=UNAUTHORIZED)

``TokenFirstRoute`` checks the token before the body is read: an anonymous
client learns nothing from a route it may not use, not even how its body
was parsed.

>>> @router.post("", dependencies=[WriteToken], responses=UNAUTHORIZED)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bookstore import tokens
from bookstore.api.known_query import KnownQueryRoute
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
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Under ``TokenFirstRoute`` the token was checked already, before the
    body: its name is reused, not looked up twice."""
    checked: str | None = getattr(request.state, "write_token", None)
    if checked is not None:
        return checked
    return await _require_token(credentials, "writes need")


async def require_log_reader_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    return await _require_token(credentials, "the search logs need")


WriteToken = Depends(require_write_token)
LogReaderToken = Depends(require_log_reader_token)


class TokenFirstRoute(KnownQueryRoute):
    """A route that answers 401 before it reads the body, when it needs a write token.

    FastAPI reads and parses the body before it solves the dependencies: a
    malformed body (``{bad``) answered 422 with the decoder's message to a
    client without a token. Routes without ``WriteToken`` (the reads) get
    FastAPI's handler unchanged. A body over the size limit may still be
    refused (413) before this runs, unread (``bookstore.api.body_limit``).
    The token is checked before the query parameters too (``KnownQueryRoute``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not any(d.call is require_write_token for d in self.dependant.dependencies):
            return handler

        async def token_first(request: Request) -> Response:
            credentials = await bearer(request)
            request.state.write_token = await _require_token(credentials, "writes need")
            return await handler(request)

        return token_first
