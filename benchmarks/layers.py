"""``python -m benchmarks.layers``: what an author search costs in Python, layer by layer.

No HTTP server and no load: the application is built with ``create_app()``
and called directly as ASGI, one search after another, and so are its inner
layers alone (the route's body, the data layer, the statement on the pool).
The differences between the lines are what each layer costs; run it under
py-spy for the shares inside a line::

    DATABASE_URL=postgresql://.../bookstore_bench python -m benchmarks.layers --searches 800
    py-spy record -r 250 -f raw -o layers.txt -- python -m benchmarks.layers --only app

``DATABASE_URL`` must name a seeded catalog (``python -m benchmarks.run``
makes ``bookstore_bench``). Figures are Python CPU (``time.process_time``)
and wall time per search, averaged over ``--searches`` searches after a
warm-up that prepares the statements on the pool's connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from benchmarks.terms import sample_terms
from bookstore import catalog
from bookstore.api.books import fetch_book_page
from bookstore.api.responses import ShapedResponse
from bookstore.app import create_app
from bookstore.catalog.statements import contains_pattern
from bookstore.settings import Settings
from bookstore.tables import Book

WARM_UP = 50


async def call_app(app: Any, query: str) -> None:
    """``GET /books?{query}`` through the whole ASGI application; asserts a 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/books",
        "raw_path": b"/books",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"benchmarks.layers")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent and sent[0]["status"] == 200, sent[:1]


async def per_search(
    label: str, fragments: Sequence[str], search: Callable[[str], Awaitable[None]], count: int
) -> None:
    for fragment in fragments[:WARM_UP]:
        await search(fragment)
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        await search(fragments[n % len(fragments)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:52} Python CPU {cpu / count * 1e6:6.0f} us   wall {wall / count * 1e3:6.2f} ms")


async def inner_layers(app: FastAPI, fragments: Sequence[str], count: int) -> None:
    """The route's body, the data layer and the statement, each without what wraps it."""
    from bookstore.catalog.author_search import books_of_authors_named_sql

    statement = books_of_authors_named_sql(True, False, 21)

    # The route reads the cursor secret from the application through its request.
    request = Request({"type": "http", "app": app, "headers": []})

    async def route_body(fragment: str) -> None:
        filters = catalog.BookFilters(author=fragment)
        ShapedResponse(await fetch_book_page(request, filters, limit=20, cursor=None))

    async def data_layer(fragment: str) -> None:
        await catalog.list_books(catalog.BookFilters(author=fragment), limit=20)

    async def driver(fragment: str) -> None:
        async with Book._meta.db.pool.acquire() as connection:
            await connection.fetch(statement, contains_pattern(fragment))

    await per_search("route body: search, cursor, encoding", fragments, route_body, count)
    await per_search("data layer: catalog.list_books", fragments, data_layer, count)
    await per_search("the statement alone, on the pool", fragments, driver, count)


async def whole_app(
    label: str, settings: Settings, *, strip_middleware: bool, inner: bool, count: int
) -> None:
    fragments = (await sample_terms(os.environ["DATABASE_URL"])).author_fragments
    queries = {f: urllib.parse.urlencode({"author": f}) for f in fragments}
    app = create_app(settings)
    if strip_middleware:
        app.user_middleware.clear()  # read when the app first runs
    async with app.router.lifespan_context(app):
        await per_search(label, fragments, lambda f: call_app(app, queries[f]), count)
        if inner:
            await inner_layers(app, fragments, count)


async def measure(count: int, only: str | None) -> None:
    variants = {
        # The response cache off: a repeated fragment would be answered from memory.
        "app": ("whole application", Settings(cache_mb=0), False),
        "no-search-log": (
            "whole application, search log off",
            Settings(search_log=False, cache_mb=0),
            False,
        ),
        "no-middleware": ("whole application, no middleware", Settings(cache_mb=0), True),
    }
    for name, (label, settings, strip_middleware) in variants.items():
        if only in (None, name):
            await whole_app(
                label,
                settings,
                strip_middleware=strip_middleware,
                inner=name == "app" and only is None,
                count=count,
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layers", description=__doc__)
    parser.add_argument("--searches", type=int, default=800, help="searches per line (800)")
    parser.add_argument(
        "--only", choices=["app", "no-search-log", "no-middleware"], help="one variant only"
    )
    args = parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ:
        raise SystemExit("DATABASE_URL must name a seeded catalog, e.g. .../bookstore_bench")
    asyncio.run(measure(args.searches, args.only))


if __name__ == "__main__":
    main()
