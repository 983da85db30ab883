"""/search-logs: what customers searched for, newest first (token required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, LogReaderToken
from bookstore.catalog.search_insights import StatsRange, search_stats
from bookstore.schemas import SearchLogList, SearchLogQuery, SearchStats, SearchStatsQuery

# The log holds what customers typed: reading it needs a token, like writes.
router = APIRouter(
    prefix="/search-logs",
    tags=["search logs"],
    dependencies=[LogReaderToken],
    responses=UNAUTHORIZED,
)


@router.get("", response_model=SearchLogList)
async def list_search_logs(params: Annotated[SearchLogQuery, Query()]) -> SearchLogList:
    return SearchLogList.model_validate({"items": await catalog.list_search_logs(params.limit)})


@router.get(
    "/stats",
    response_model=SearchStats,
    summary="Search insights over a range of time",
)
async def get_search_stats(params: Annotated[SearchStatsQuery, Query()]) -> SearchStats:
    """How many searches, how many found nothing, how fast, and what was searched.

    Read from hourly rollups (docs/insights.md): as fast over 30 days of
    millions of searches as over one hour.
    """
    stats_range = StatsRange.around(since=params.since, until=params.until, bucket=params.bucket)
    return SearchStats.model_validate(await search_stats(stats_range, top=params.limit))
