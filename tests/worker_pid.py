"""The service as uvicorn serves it, plus a header naming the worker process that answered.

For tests of several workers (``uvicorn --workers 2 --factory
worker_pid:create_app``, ``servers.running_server(factory=...)``): a
keep-alive connection stays with the worker that accepted it, and the
header says which one that is. Tests only: the service names no process.
"""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookstore.app import create_app as create_bookstore_app

WORKER_HEADER = "x-test-worker-pid"


class NameTheWorker:
    """Adds ``WORKER_HEADER``, this process's pid, to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (WORKER_HEADER.encode(), str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_named)


def create_app() -> ASGIApp:
    """Called by uvicorn in each worker process."""
    return NameTheWorker(create_bookstore_app())
