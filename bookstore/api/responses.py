"""A response serialised once, by pydantic-core.

Returning a model makes FastAPI validate it again against ``response_model``
and then encode it; for the book listings, the hot path of the service, that
second pass cost more than the query. Routes that return ``ModelResponse``
keep ``response_model`` in their decorator for the OpenAPI document.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200) -> None:
        super().__init__(model.model_dump_json(), status_code=status_code)
