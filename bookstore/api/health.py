"""/health: is the service up, and can it reach its database?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bookstore import catalog
from bookstore.schemas import Health

router = APIRouter(tags=["health"])

DATABASE_TIMEOUT_S = 2.0


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer."}},
)
async def health() -> Health | JSONResponse:
    try:
        await asyncio.wait_for(catalog.ping(), timeout=DATABASE_TIMEOUT_S)
    except Exception:
        unavailable = Health(status="unavailable", database="unreachable")
        return JSONResponse(unavailable.model_dump(), status_code=503)
    return Health(status="ok", database="ok")
