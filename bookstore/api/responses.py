"""The book listings' response: rows encoded once, by orjson.

Returning data from a route makes FastAPI validate it against
``response_model`` and then encode it. For the book listings, the hot path
of the service, validating twenty books into models only to dump them again
cost more than the query. Routes that return ``ShapedResponse`` keep
``response_model`` in their decorator for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class ShapedResponse(Response):
    """Data the data layer already shaped like the route's ``response_model``.

    The encoding is pydantic's: UTC datetimes end in "Z", microseconds only
    when not zero. tests/test_books.py checks that a page read back through
    the model and dumped again is unchanged.
    """

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(orjson.dumps(content, option=orjson.OPT_UTC_Z), status_code=status_code)
