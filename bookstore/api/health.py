"""/health: is the service up, and can it reach its database?"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bookstore.api.dependencies import SearchLoggerDep
from bookstore.database import ping
from bookstore.schemas import Health, ReplicaHealth, SearchLogHealth

router = APIRouter(tags=["health"])

# Below the one second in which every request must answer, database down or not.
DATABASE_TIMEOUT_S = 0.8


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer."}},
)
async def health(request: Request, search_logger: SearchLoggerDep) -> Health | JSONResponse:
    """Up, and reaching the database; with the search log's counters.

    The database is reached on a connection of its own
    (``bookstore.database.open_health_pool``), so the answer stays quick
    while searches keep the API's pool busy.

    ``replicas`` lists each read replica, ok, lagging or down, as the
    background checks last saw it (``bookstore.replicas``): reads already
    avoid one that is not ok, so it does not make the service unhealthy.

    ``search_log.dropped`` above zero means searches went unlogged because
    the buffer overflowed while the database could not be written.
    """
    search_log = SearchLogHealth(**asdict(search_logger.stats))
    replica_set = request.app.state.replicas
    replicas = [
        ReplicaHealth(url=replica.display_url, state=replica.state.value, lag_s=replica.lag_s)
        for replica in (replica_set.replicas if replica_set is not None else ())
    ]
    try:
        await ping(request.app.state.health_pool, DATABASE_TIMEOUT_S)
    except Exception:
        unavailable = Health(
            status="unavailable", database="unreachable", replicas=replicas, search_log=search_log
        )
        return JSONResponse(unavailable.model_dump(), status_code=503)
    return Health(status="ok", database="ok", replicas=replicas, search_log=search_log)
