"""Security headers on every response, chosen by path.

Pages a browser renders (the admin, the API docs and the document they
load) may not be framed by another site (clickjacking: DENY), leak their URL
to other origins (``Referrer-Policy: same-origin``), or be sniffed into
another content type. The JSON API gets ``nosniff`` only: it is read by
programs, and a browser that opens it directly must not run it as HTML.

Pure ASGI, and the work per response is a prefix test and a list append:
the search path pays for nothing more.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")
PAGE_HEADERS = (
    (b"x-frame-options", b"DENY"),
    NOSNIFF,
    (b"referrer-policy", b"same-origin"),
)
# Paths whose responses a browser renders as pages: piccolo-admin (its pages
# and its JSON), Swagger UI and ReDoc, and the OpenAPI document they read.
PAGE_PREFIXES = ("/admin", "/docs", "/redoc", "/openapi.json")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = PAGE_HEADERS if scope["path"].startswith(PAGE_PREFIXES) else (NOSNIFF,)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
