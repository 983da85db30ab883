"""Routes that take no query parameter refuse any: ``KnownQueryRoute``.

A route with query parameters takes them as one ``QueryModel`` whose
``extra="forbid"`` names any other (``?titel=`` answers 422). A route with
none had nothing to judge them: ``GET /categories?limit=2`` answered every
category, and ``POST /books?dry_run=true`` created the book, the parameter
silently ignored. Issue 9 asks that no parameter be ignored that way. A
cache buster (``?_=``) is let through: it asks nothing of the route.

>>> router = APIRouter(prefix="/categories", route_class=KnownQueryRoute)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

# The one name such a route lets pass: jQuery's ``cache: false`` and many
# HTTP caches' busters add ``?_=1700000000`` to any URL, and it asks nothing.
CACHE_BUSTER = "_"


def unknown_parameters(request: Request) -> list[dict[str, Any]]:
    """Each parameter of the query string but ``CACHE_BUSTER``, as the error a query
    model gives an extra one."""
    return [
        {
            "type": "extra_forbidden",
            "loc": ("query", name),
            "msg": "Extra inputs are not permitted",
            "input": request.query_params.get(name),
        }
        for name in dict.fromkeys(request.query_params.keys())
        if name != CACHE_BUSTER
    ]


def takes_query_parameters(dependant: Dependant) -> bool:
    """Whether ``dependant`` or one of its dependencies declares a query parameter."""
    return bool(dependant.query_params) or any(
        takes_query_parameters(dependency) for dependency in dependant.dependencies
    )


class KnownQueryRoute(APIRoute):
    """A route that answers 422 naming every query parameter sent, when it takes none.

    Decided once, when the handler is built: a route whose dependencies
    declare a query parameter anywhere gets FastAPI's handler unchanged, its
    parameters judged by its model.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if takes_query_parameters(self.dependant):
            return handler

        async def no_query_parameters(request: Request) -> Response:
            if request.scope.get("query_string"):
                unknown = unknown_parameters(request)
                if unknown:
                    raise RequestValidationError(unknown)
            return await handler(request)

        return no_query_parameters
