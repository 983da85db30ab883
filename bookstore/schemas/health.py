"""What ``/health`` answers."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    Field,
)


class SearchLogHealth(BaseModel):
    written: int = Field(description="Search rows written since the process started.")
    pending: int = Field(description="Searches buffered, waiting to be written.")
    dropped: int = Field(description="Searches not logged: the buffer was full.")
    failed_writes: int = Field(description="Batch writes that failed and were retried.")


class ReplicaHealth(BaseModel):
    url: str = Field(description="The replica's URL, without its password.")
    state: Literal["ok", "lagging", "down"] = Field(
        description="ok: serving reads; lagging: further behind than "
        "BOOKSTORE_REPLICA_MAX_LAG_S; down: not answering. Either of the last two "
        "is left out of reads until it recovers."
    )
    lag_s: float | None = Field(description="Seconds behind the primary at the last check.")


class Health(BaseModel):
    status: str
    database: str
    replicas: list[ReplicaHealth] = Field(
        default_factory=list,
        description="Each read replica (BOOKSTORE_REPLICA_URLS); one down does not make "
        "the service unhealthy.",
    )
    search_log: SearchLogHealth
