"""Which requests may read from a replica: listings, searches and exports.

Sets ``bookstore.replicas.reads_from_replica`` for the request, so that
the connections it asks for come from a replica (``RoutedPool``); every
other request, writes first, reads from the primary. A middleware, so that
no route and no query has to say where it reads.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from bookstore.api.cached_listings import is_listing
from bookstore.replicas import reads_from_replica

EXPORT_PATH = re.compile(r"/books/export\.(csv|jsonl)")


def reads_from_a_replica(scope: Scope) -> bool:
    return is_listing(scope) or (
        scope["method"] == "GET" and EXPORT_PATH.fullmatch(scope["path"]) is not None
    )


class ReplicaReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not reads_from_a_replica(scope):
            await self.app(scope, receive, send)
            return
        token = reads_from_replica.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            reads_from_replica.reset(token)
