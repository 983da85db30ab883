"""Conditional requests on books (RFC 9110 §13): ETag, If-Match, If-None-Match.

A book's ETag is its version (``catalog.book_version``) in quotes. It is a
strong validator: it changes whenever any byte of the book's JSON would.

- ``GET /books/{id}`` with ``If-None-Match`` naming the current ETag (or
  ``*``) answers 304 with no body.
- ``PATCH`` and ``DELETE /books/{id}`` with ``If-Match`` apply only while the
  book is at one of the ETags named, else 412: two clients editing from the
  same copy cannot overwrite each other. The check is made by the data layer
  in the write's own transaction.
- ``If-Match`` on a book that does not exist answers 404, not 412: RFC 9110
  §13.2.1 has preconditions ignored when the request without them would not
  succeed, and 404 tells the client more.

>>> async def get_book(book_id: PathId, if_none_match: IfNoneMatch = None): ...
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Header, status

from bookstore import catalog
from bookstore.schemas import ErrorOut

IfMatch = Annotated[
    list[str] | None,
    Header(description="Apply only if the book's ETag is one of these (or `*`); else 412."),
]
IfNoneMatch = Annotated[
    list[str] | None,
    Header(description="Answer 304 without a body if the book's ETag is one of these (or `*`)."),
]

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    status.HTTP_304_NOT_MODIFIED: {"description": "`If-None-Match` names the current ETag."}
}
PRECONDITION_FAILED: dict[int | str, dict[str, Any]] = {
    status.HTTP_412_PRECONDITION_FAILED: {
        "model": ErrorOut,
        "description": "`If-Match` names an ETag the book no longer has: fetch it again.",
    }
}

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list. A
# tag may itself hold commas, so the list is scanned for tags, not split.
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')


def etag(book: catalog.Row) -> str:
    """The ``ETag`` header value of ``book``."""
    return f'"{catalog.book_version(book)}"'


def _is_any(values: Sequence[str]) -> bool:
    return any(value.strip() == "*" for value in values)


def if_match_versions(if_match: Sequence[str] | None) -> frozenset[str] | None:
    """The versions ``If-Match`` accepts, or None when it sets no condition.

    ``*`` asks only that the book exist, which every write checks anyway.
    Weak tags never match: If-Match uses the strong comparison. A header
    with no valid tag in it accepts nothing, hence 412.
    """
    if not if_match or _is_any(if_match):
        return None
    tags = _ENTITY_TAG.findall(",".join(if_match))
    return frozenset(opaque for weak, opaque in tags if not weak)


def is_not_modified(if_none_match: Sequence[str] | None, book: catalog.Row) -> bool:
    """Whether ``If-None-Match`` names ``book``'s current ETag (weak comparison, as required)."""
    if not if_none_match:
        return False
    if _is_any(if_none_match):
        return True
    tags = _ENTITY_TAG.findall(",".join(if_none_match))
    return catalog.book_version(book) in {opaque for _weak, opaque in tags}


# Listings and searches (GET /books, /authors, /categories, their /books,
# /books/suggest) carry a weak ETag: the same request at the same catalog
# version gets the same answer, but "the same" is the data's, not every
# byte's (a cached answer and a fresh one may differ in the order of JSON
# keys of an object no client compares). See bookstore.api.cached_listings.


def listing_etag(catalog_version: int, request_key: str) -> str:
    """``W/"<version>-<digest of the request>"``: one tag per question and catalog.

    The digest keeps the tag short, and the version in clear lets an
    operator read from a tag which catalog an answer came from.
    """
    digest = hashlib.blake2b(request_key.encode(), digest_size=8).hexdigest()
    return f'W/"{catalog_version}-{digest}"'


def names_etag(if_none_match: str, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (weak comparison), or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(f'"{value}"' == opaque for _weak, value in _ENTITY_TAG.findall(if_none_match))
