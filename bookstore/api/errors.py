"""Domain errors and failures of the database, turned into JSON responses once.

Every error body is ``{"detail": ...}``; no traceback ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bookstore.errors import (
    CatalogError,
    Conflict,
    InvalidCursor,
    InvalidImportFile,
    InvalidRange,
    InvalidReference,
    NotFound,
    NothingToSearch,
    PreconditionFailed,
)
from bookstore.schemas import ErrorOut

logger = logging.getLogger(__name__)


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Documented on every route of the API (OpenAPI), so clients and generated
# SDKs know the shape of each error they can meet.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: _documented("Invalid parameters or body; `detail` says which."),
    503: _documented("The database is unavailable; retry shortly."),
    504: _documented("The database took too long to answer."),
}
# And on the routes of books, authors and categories.
RESOURCE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The body is not valid JSON."),
    404: _documented("No such id."),
    409: _documented("The write conflicts with stored data (duplicate, or in use)."),
    413: _documented("The body is larger than the limit."),
}

STATUS_BY_ERROR: dict[type[CatalogError], int] = {
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    InvalidReference: 422,
    InvalidCursor: 422,
    InvalidImportFile: 422,
    InvalidRange: 422,
}

# Raised when the database is down, restarting, shutting down or unreachable,
# or when no pooled connection came free in time (TimeoutError).
DATABASE_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # its QueryCanceledError: see below
    asyncpg.exceptions.InterfaceError,
    # asyncpg's "another operation is in progress": a pooled connection the
    # server closed with a FATAL error, handed out before asyncpg noticed.
    asyncpg.exceptions.InternalClientError,
)


async def _catalog_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CatalogError)
    return JSONResponse({"detail": error.detail}, status_code=STATUS_BY_ERROR[type(error)])


def _json_safe(value: Any) -> Any:
    """Replace what JSON cannot carry: lone surrogates (by escapes), NaN and
    infinities (by their names)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    # FastAPI's own handler echoes the input back; a lone surrogate or a NaN
    # in it would make that 422 fail to encode and turn into a 500.
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": _json_safe(jsonable_encoder(error.errors()))}, status_code=422)


async def _nothing_to_search(request: Request, error: Exception) -> JSONResponse:
    # Shaped as a refused parameter (``_invalid_request``), as a blank q is.
    assert isinstance(error, NothingToSearch)
    detail = [
        {"type": "value_error", "loc": ["query", "q"], "msg": error.detail, "input": error.text}
    ]
    return JSONResponse({"detail": _json_safe(detail)}, status_code=422)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    logger.warning(
        "database unavailable during %s %s: %r", request.method, request.url.path, error
    )
    return JSONResponse(
        {"detail": "the catalog database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _statement_timeout(request: Request, error: Exception) -> JSONResponse:
    logger.warning("statement timeout during %s %s", request.method, request.url.path)
    return JSONResponse(
        {"detail": "the catalog database took too long to answer; retry shortly"},
        status_code=504,
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error during %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for error_class in STATUS_BY_ERROR:
        app.add_exception_handler(error_class, _catalog_error)
    app.add_exception_handler(NothingToSearch, _nothing_to_search)
    for error_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_class, _database_unavailable)
    app.add_exception_handler(asyncpg.exceptions.QueryCanceledError, _statement_timeout)
    app.add_exception_handler(Exception, _unexpected)
