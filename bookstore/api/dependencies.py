"""Parameters shared by several routes, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from bookstore.pagination import (
    SearchKey,
    SortKey,
    decode_cursor,
    decode_search_cursor,
    encode_cursor,
    encode_search_cursor,
)
from bookstore.schemas import INT4_MAX
from bookstore.search_log import SearchLogger

PathId = Annotated[int, Path(ge=1, le=INT4_MAX, description="A positive integer id.")]


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

    def decode_search(self, cursor: str | None) -> SearchKey | None:
        """A ``q=`` listing's cursor: (score or title, id, words dropped)."""
        if cursor is None:
            return None
        return decode_search_cursor(cursor, scope=self.scope, secret=self.secret)

    def encode_search(self, key: SearchKey | None) -> str | None:
        if key is None:
            return None
        return encode_search_cursor(key, scope=self.scope, secret=self.secret)


async def get_search_logger(request: Request) -> SearchLogger:
    # async: FastAPI would run a plain function in a worker thread, per request.
    return request.app.state.search_logger


SearchLoggerDep = Annotated[SearchLogger, Depends(get_search_logger)]
