"""Refuse request bodies over a size limit with a JSON 413.

Starlette's own limiter answers in plain text; every error of this API is
JSON. A declared Content-Length over the limit is refused before anything is
read; a chunked body is counted as it arrives and refused once over.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(HTTPException):
    """Raised while reading: FastAPI turns an HTTPException into its response,
    where any other error while parsing the body would become a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=f"request body is larger than {max_bytes} bytes")


class BodySizeLimit:
    """``max_bytes`` for every request, except the paths given their own limit.

    >>> BodySizeLimit(app, max_bytes=1_048_576, limits_by_path={"/books/import": 20_971_520})
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, limits_by_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.limits_by_path = limits_by_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limits_by_path.get(scope["path"], self.default_max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = json.dumps({"detail": f"request body is larger than {max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
