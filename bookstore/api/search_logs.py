"""/search-logs: what customers searched for, newest first (token required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, LogReaderToken
from bookstore.schemas import SearchLogList

# The log holds what customers typed: reading it needs a token, like writes.
router = APIRouter(
    prefix="/search-logs",
    tags=["search logs"],
    dependencies=[LogReaderToken],
    responses=UNAUTHORIZED,
)


@router.get("", response_model=SearchLogList)
async def list_search_logs(
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, 1 to 1000.")] = 50,
) -> SearchLogList:
    return SearchLogList.model_validate({"items": await catalog.list_search_logs(limit)})
