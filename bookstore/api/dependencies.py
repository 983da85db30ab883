"""Parameters shared by several routes, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator

from bookstore.pagination import SortKey, decode_cursor, encode_cursor
from bookstore.schemas import INT4_MAX, refuse_nul
from bookstore.search_log import SearchLogger

PathId = Annotated[int, Path(ge=1, le=INT4_MAX, description="A positive integer id.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")]


def search_term(max_length: int, description: str) -> object:
    """A free-text query parameter: 1 to ``max_length`` characters, no NUL."""
    return Annotated[
        str | None,
        Query(min_length=1, max_length=max_length, description=description),
        AfterValidator(refuse_nul),
    ]


CursorParam = Annotated[
    str | None,
    Query(max_length=2000, description="The `next_cursor` of the previous page."),
]


class Pager:
    """Encodes and decodes the cursors of one listing (its ``scope``).

    ``secret`` is the app's ``state.cursor_secret``, read once at start-up
    (``bookstore.installation_secrets``).
    """

    def __init__(self, scope: str, secret: str) -> None:
        self.scope = scope
        self.secret = secret

    def decode(self, cursor: str | None) -> SortKey | None:
        if cursor is None:
            return None
        return decode_cursor(cursor, scope=self.scope, secret=self.secret)

    def encode(self, key: SortKey | None) -> str | None:
        return None if key is None else encode_cursor(key, scope=self.scope, secret=self.secret)


async def get_search_logger(request: Request) -> SearchLogger:
    # async: FastAPI would run a plain function in a worker thread, per request.
    return request.app.state.search_logger


SearchLoggerDep = Annotated[SearchLogger, Depends(get_search_logger)]
