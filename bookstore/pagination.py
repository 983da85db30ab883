"""Opaque keyset cursors.

A cursor carries the sort key of the last row served, so the next page is a
range scan on the ordering index instead of an OFFSET that reads and throws
away every earlier row. It is signed together with the query it belongs to:
a cursor that was edited, truncated or taken from another query is refused
with a 422 rather than silently serving the wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import NamedTuple

from bookstore.errors import InvalidCursor
from bookstore.schemas import INT4_MAX


class SortKey(NamedTuple):
    """The (text, id) pair every listing is ordered by: title or name, then id."""

    text: str
    id: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, scope: str, payload: bytes) -> bytes:
    message = scope.encode() + b"\0" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:12]


class SearchKey(NamedTuple):
    """Where a page of ``GET /books?q=`` resumes.

    ``order``: the last book's score (relevance order) or title (title
    order); ``dropped``: how many of the query's last terms were dropped
    because no book matched them all, so that later pages keep the words of
    the first.
    """

    order: int | str | None
    id: int
    dropped: int


def _encode(values: list[object], scope: str, secret: str) -> str:
    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
    return f"{_b64encode(payload)}.{_b64encode(_signature(secret, scope, payload))}"


def encode_values(values: list[object], *, scope: str, secret: str) -> str:
    """A cursor carrying ``values`` (JSON), signed for ``scope``."""
    return _encode(values, scope, secret)


def decode_values(cursor: str, *, scope: str, secret: str) -> object:
    """The values a cursor carries, once its signature for ``scope`` is checked; unchecked."""
    return _decode(cursor, scope=scope, secret=secret)


def encode_cursor(key: SortKey, *, scope: str, secret: str) -> str:
    return _encode([key.text, key.id], scope, secret)


def encode_search_cursor(key: SearchKey, *, scope: str, secret: str) -> str:
    return _encode(list(key), scope, secret)


def decode_search_cursor(cursor: str, *, scope: str, secret: str) -> SearchKey:
    values = _decode(cursor, scope=scope, secret=secret)
    if not (isinstance(values, list) and len(values) == 3):
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    order, id_, dropped = values
    if (
        not (
            (type(order) is int and abs(order) <= 1_000_000)
            or (isinstance(order, str) and "\x00" not in order)
            or order is None  # a book without the sorted value (price, year)
        )
        or type(id_) is not int
        or not 0 <= id_ <= INT4_MAX
        or type(dropped) is not int
        or not 0 <= dropped <= 200
    ):
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    return SearchKey(order, id_, dropped)


def decode_cursor(cursor: str, *, scope: str, secret: str) -> SortKey:
    values = _decode(cursor, scope=scope, secret=secret)
    try:
        text, id_ = values
    except (ValueError, TypeError):
        raise InvalidCursor("cursor is malformed; use next_cursor as given") from None
    # Signed does not mean sane: a secret can leak (or be set to something
    # guessable), so a cursor is checked as strictly as any other input.
    if (
        not isinstance(text, str)
        or "\x00" in text
        or type(id_) is not int
        or not 1 <= id_ <= INT4_MAX
    ):
        raise InvalidCursor("cursor is malformed; use next_cursor as given")
    return SortKey(text, id_)


def _decode(cursor: str, *, scope: str, secret: str) -> object:
    try:
        payload_part, signature_part = cursor.split(".")
        payload = _b64decode(payload_part)
        signature = _b64decode(signature_part)
    except (ValueError, binascii.Error):
        raise InvalidCursor("cursor is malformed; use next_cursor as given") from None
    if not hmac.compare_digest(signature, _signature(secret, scope, payload)):
        raise InvalidCursor("cursor does not belong to this query; use next_cursor as given")
    try:
        return json.loads(payload)
    except ValueError:
        raise InvalidCursor("cursor is malformed; use next_cursor as given") from None
