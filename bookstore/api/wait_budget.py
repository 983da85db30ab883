"""A budget per request for waiting on database connections."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from bookstore.database import WaitBudget, wait_budget


class DatabaseWaitBudget:
    """Give each HTTP request ``seconds`` in all for waiting on database connections.

    Every acquire of the request draws on it (see
    ``bookstore.database.BoundedPool``): with the database unreachable, a
    request answers 503 within the budget, however many statements it runs.
    A middleware rather than a dependency: the endpoint, its dependencies
    and its background tasks run in the context it sets, for less than a
    FastAPI dependency costs on every request.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wait_budget.set(WaitBudget(self.seconds))
        await self.app(scope, receive, send)
