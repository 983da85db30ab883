"""/search-logs: what customers searched for, newest first (token required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, LogReaderToken
from bookstore.api.dependencies import refuse_repeated_parameters
from bookstore.schemas import SearchLogList, SearchLogQuery

# The log holds what customers typed: reading it needs a token, like writes.
router = APIRouter(
    prefix="/search-logs",
    tags=["search logs"],
    dependencies=[LogReaderToken],
    responses=UNAUTHORIZED,
)


@router.get(
    "", response_model=SearchLogList, dependencies=[refuse_repeated_parameters(SearchLogQuery)]
)
async def list_search_logs(params: Annotated[SearchLogQuery, Query()]) -> SearchLogList:
    return SearchLogList.model_validate({"items": await catalog.list_search_logs(params.limit)})
