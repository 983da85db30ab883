"""Parameters shared by several routes, declared once."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, get_args, get_origin

from fastapi import Depends, Path, Request, params
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

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


def _takes_repeats(annotation: Any) -> bool:
    """Whether a field is a list (``list[int]``, ``list[int] | None``)."""
    return get_origin(annotation) is list or any(
        get_origin(argument) is list for argument in get_args(annotation)
    )


def refuse_repeated_parameters(model: type[BaseModel]) -> params.Depends:
    """A route dependency: 422 when a single-valued query parameter comes twice.

    FastAPI reads the last of ``?category=fantasy&category=horror``, and the
    first would be ignored without a word. List fields of ``model`` take
    repeats on purpose and are let through.
    """
    repeatable = frozenset(
        name for name, field in model.model_fields.items() if _takes_repeats(field.annotation)
    )

    async def refuse(request: Request) -> None:
        query = request.query_params
        items = query.multi_items()
        if len(items) == len(query):  # the common case: each name once
            return
        counts = Counter(name for name, _ in items)
        errors = [
            {
                "type": "repeated_parameter",
                "loc": ("query", name),
                "msg": "Given more than once; give it once",
                "input": query.getlist(name),
            }
            for name, count in counts.items()
            if count > 1 and name not in repeatable
        ]
        if errors:
            raise RequestValidationError(errors)

    return Depends(refuse)


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
