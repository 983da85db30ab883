"""The admin's login rate limit, counted in the database: one limit for every worker.

piccolo-admin counts login attempts in the memory of each process: with
``--workers 2`` a client gets twice the attempts, and a restart forgets
them. Its limiter calls its provider synchronously, so a provider cannot
wait on the database; this ASGI middleware sits in front of the admin
instead and counts ``POST .../public/login/`` per client address in
``admin_login_attempts``, in one statement (an upsert, so concurrent
attempts from several workers are counted one by one). The rules are
piccolo-admin's, as configured before: ``admin_login_attempts`` per
``admin_login_window`` seconds; the attempt over the limit blocks the
address for one window, right password or not (429).

>>> app = LoginRateLimit(create_admin(...), attempts=20, window_s=300)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from piccolo_api.rate_limiting.middleware import RateLimitProvider
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bookstore.admin.accounts import StaffUser

logger = logging.getLogger(__name__)

LOGIN_PATH_SUFFIX = "/public/login/"

# A window that has passed starts again at one attempt; a block lasts one
# window from the attempt that went over, and counts nothing meanwhile.
_COUNT_ATTEMPT = """
INSERT INTO admin_login_attempts AS a (client, window_start, attempts, blocked_until)
VALUES ({}, now(), 1, NULL)
ON CONFLICT (client) DO UPDATE SET
    window_start = CASE WHEN a.blocked_until > now() THEN a.window_start
                        WHEN a.window_start + {} <= now() THEN now()
                        ELSE a.window_start END,
    attempts = CASE WHEN a.blocked_until > now() THEN a.attempts
                    WHEN a.window_start + {} <= now() THEN 1
                    ELSE a.attempts + 1 END,
    blocked_until = CASE WHEN a.blocked_until > now() THEN a.blocked_until
                         WHEN a.window_start + {} > now() AND a.attempts + 1 > {} THEN now() + {}
                         ELSE NULL END
RETURNING coalesce(blocked_until > now(), false) OR attempts > {} AS blocked
"""

# Addresses idle for a day are forgotten (now and then, by whoever logs in).
_FORGET_IDLE = """
DELETE FROM admin_login_attempts
WHERE window_start < now() - interval '1 day' AND coalesce(blocked_until < now(), true)
"""
FORGET_EVERY = 100


class NoLimit(RateLimitProvider):
    """For piccolo-admin's own limiter: ``LoginRateLimit`` does the counting."""

    def increment(self, identifier: str) -> None:
        return None


class LoginRateLimit:
    """ASGI middleware limiting admin logins per client address, in the database."""

    def __init__(self, app: ASGIApp, *, attempts: int, window_s: int) -> None:
        self.app = app
        self.attempts = attempts
        self.window = timedelta(seconds=window_s)
        self._counted = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith(LOGIN_PATH_SUFFIX)
        ):
            refusal = await self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope) -> PlainTextResponse | None:
        client = scope.get("client")
        if not client:
            return PlainTextResponse("Client host can't be found.", status_code=400)
        try:
            (row,) = await StaffUser.raw(
                _COUNT_ATTEMPT,
                client[0],
                *(self.window,) * 3,
                self.attempts,
                self.window,
                self.attempts,
            )
            self._counted += 1
            if self._counted % FORGET_EVERY == 0:
                await StaffUser.raw(_FORGET_IDLE)
        except Exception:
            # Without the database there is no login either: say so, not 500.
            logger.exception("admin login limit: the database did not answer")
            return PlainTextResponse("The database is unavailable.", status_code=503)
        if row["blocked"]:
            return PlainTextResponse("Too many requests", status_code=429)
        return None
