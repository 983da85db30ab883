"""Listings and searches answered from memory, with ETags and Cache-Control.

A pure ASGI middleware around the routers, so that the routes and the
data layer stay as they are: it sees ``GET /books``, ``/books/suggest``,
``/authors``, ``/categories`` and their ``/books`` before any of them runs.

- Every such answer carries a weak ``ETag`` made of the catalog version and
  the normalized request (``conditional.listing_etag``), and
  ``Cache-Control: public, max-age=N`` (``BOOKSTORE_LIST_MAX_AGE_S``,
  default 0: a shared cache may keep it but must ask again each time).
- ``If-None-Match`` naming it answers 304 at once: the catalog has not
  changed since, so neither has the answer, and books are not queried.
- With ``BOOKSTORE_CACHE_MB`` above 0, 200 answers are kept in a
  ``ResponseCache`` under (version, request) and served from it until the
  catalog version moves.
- A search answered from memory (200 or 304) is still logged: the route
  leaves its ``SearchRecord`` in the request's scope
  (``remember_search``), kept with the body, and logged again with the
  new answer's time.
- A write (POST, PATCH, PUT, DELETE answered below 400) reads the catalog
  version again before its response goes out, so that this process never
  serves a read older than a write it acknowledged; other processes learn
  of it from NOTIFY (``bookstore.catalog_version``).

The request is normalized as its path plus its query parameters sorted
(``?b=2&a=1`` is ``?a=1&b=2``); requests that differ otherwise (a repeated
parameter, an unknown one, another spelling of a space) are different keys,
and those the routes refuse (4xx) are never kept.
"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookstore.api.conditional import listing_etag, names_etag
from bookstore.catalog_version import CatalogVersion
from bookstore.response_cache import CachedResponse, ResponseCache
from bookstore.search_log import SearchRecord

# The answers that depend on the catalog only: listings and searches.
LISTING_PATH = re.compile(
    r"/(books|books/suggest|authors|categories|(authors|categories)/\d+/books)"
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where a route leaves the search it logged, for the cache to log it again.
SEARCH_RECORD_KEY = "bookstore.search_record"
# Headers of the route's answer not worth keeping: recomputed on each reply.
_REPLAYED_HEADERS = frozenset({b"content-type", b"content-length"})


def remember_search(scope: Scope, record: SearchRecord) -> None:
    """Leave ``record`` for the cache: served again from memory, it is logged again."""
    scope[SEARCH_RECORD_KEY] = record


def is_listing(scope: Scope) -> bool:
    """A GET of a listing or a search: what the cache and the read replicas serve."""
    return scope["method"] == "GET" and LISTING_PATH.fullmatch(scope["path"]) is not None


def request_key(scope: Scope) -> str:
    """The path and its query parameters, sorted: one key per question.

    The parameters are sorted as sent, not decoded: decoding and encoding
    them again cost 18 us a request (a twentieth of a whole search), and
    the rare client that spells one question two ways (``%20`` and ``+``)
    only gets two entries.
    """
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return scope["path"]
    return f"{scope['path']}?{'&'.join(sorted(query.split('&')))}"


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope["headers"] if key == name]
    return b",".join(values).decode("latin-1") if values else None


class CachedListings:
    """ETags, 304s and the response cache for listings; version refresh after writes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        catalog_version: CatalogVersion,
        cache: ResponseCache,
        max_age_s: int,
    ) -> None:
        self.app = app
        self.catalog_version = catalog_version
        self.cache = cache
        self.cache_control = f"public, max-age={max_age_s}".encode()
        catalog_version.subscribe(cache.clear_for)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in WRITE_METHODS:
            await self._write(scope, receive, send)
        elif is_listing(scope) and self.catalog_version.value is not None:
            await self._listing(scope, receive, send, self.catalog_version.value)
        else:
            await self.app(scope, receive, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_after_refresh(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await self.catalog_version.refresh()
            await send(message)

        await self.app(scope, receive, send_after_refresh)

    async def _listing(self, scope: Scope, receive: Receive, send: Send, version: int) -> None:
        started = time.perf_counter()
        # The subscription empties the cache as soon as the version moves;
        # this catches a version read before the middleware existed (an app
        # whose lifespan ran without it, as in-process tests do).
        self.cache.clear_for(version)
        key = request_key(scope)
        etag = listing_etag(version, key)
        validators = [(b"etag", etag.encode()), (b"cache-control", self.cache_control)]
        cached = self.cache.get(version, key) if self.cache.enabled else None
        if_none_match = _header(scope, b"if-none-match")
        if if_none_match is not None and names_etag(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": validators})
            await send({"type": "http.response.body", "body": b""})
            if cached is not None:
                await self._log_again(scope, cached, started)
            return
        if cached is not None:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(cached.body)).encode()),
                *validators,
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": cached.body})
            await self._log_again(scope, cached, started)
            return
        await self._answer_and_keep(scope, receive, send, version, key, validators)

    async def _answer_and_keep(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        version: int,
        key: str,
        validators: list[tuple[bytes, bytes]],
    ) -> None:
        """Let the route answer; tag a 200, and keep its body when the cache is on."""
        status = 0
        chunks: list[bytes] = []
        keep = self.cache.enabled

        async def tag_and_capture(message: Message) -> None:
            nonlocal status, keep
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    message["headers"] = [*message.get("headers", ()), *validators]
                else:
                    keep = False
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, tag_and_capture)
        if keep and status == 200:
            record = scope.get(SEARCH_RECORD_KEY)
            self.cache.put(version, key, b"".join(chunks), record)

    async def _log_again(self, scope: Scope, cached: CachedResponse, started: float) -> None:
        if cached.record is None:
            return
        logger: Any = getattr(scope["app"].state, "search_logger", None)
        if logger is None:
            return
        await logger.record(
            dataclasses.replace(
                cached.record,
                duration_ms=(time.perf_counter() - started) * 1000,
                created_at=datetime.now(UTC),
            )
        )
