"""What the search log and its insights answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
)

# -- search logs and health --------------------------------------------------


class SearchLogOut(BaseModel):
    id: int
    author: str | None
    category: str | None
    q: str | None = Field(description="The search box's text, as typed.")
    query: str | None
    result_count: int
    duration_ms: float
    created_at: datetime


class SearchLogList(BaseModel):
    items: list[SearchLogOut]


class TopSearch(BaseModel):
    search: str = Field(
        description="The search, folded for case, accents and spacing: the q, or "
        "`author: ... · category: ...` for a search by names."
    )
    q: str | None = Field(description="The search box's text, folded; null for a search by names.")
    author: str | None = Field(description="The author name searched (folded), when no q.")
    category: str | None = Field(description="The category searched (folded), when no q.")
    searches: int = Field(description="How many times it was searched in the range.")
    zero_result_searches: int = Field(description="How many of those found nothing.")
    params: dict[str, str] = Field(
        description="One of its searches as typed, as `GET /books` parameters: replays it."
    )


class StatsBucket(BaseModel):
    start: datetime = Field(description="The hour or (UTC) day this entry covers.")
    searches: int
    zero_result_searches: int
    p95_ms: float | None = Field(description="null when there was no search.")


class SearchStats(BaseModel):
    since: datetime = Field(description="The range covered, widened to whole hours.")
    until: datetime
    bucket: Literal["hour", "day"]
    searches: int
    zero_result_searches: int
    zero_result_rate: float | None = Field(
        description="Share of searches that found nothing, 0 to 1; null without searches."
    )
    p50_ms: float | None = Field(
        description="Median duration: the upper bound of its histogram bucket (at most 10% "
        "above the true value), 0.1 ms; null without searches."
    )
    p95_ms: float | None = Field(description="95th percentile, as p50_ms.")
    top_queries: list[TopSearch] = Field(description="Most frequent searches first.")
    top_zero_result: list[TopSearch] = Field(
        description="The searches that most often found nothing, most zero-result searches first."
    )
    by_bucket: list[StatsBucket] = Field(description="Every hour or day of the range, in order.")
