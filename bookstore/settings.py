"""Every knob of the service, read once from the environment.

``DATABASE_URL`` keeps its conventional name; everything else is prefixed
``BOOKSTORE_`` so it cannot collide with other tools' variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKSTORE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BOOKSTORE_DATABASE_URL"),
        description="PostgreSQL DSN; when unset the embedded server is used.",
    )
    data_dir: Path = Field(
        default=Path(".bookstore"),
        description="Where the embedded PostgreSQL keeps its files.",
    )
    database_name: str = Field(
        default="bookstore", description="Database created on the embedded server."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS, e.g. https://shop.example.",
    )
    pool_min_size: int = 2
    pool_max_size: int = 10
    db_connect_timeout: float = Field(
        default=0.5, gt=0, description="Seconds to wait for a new database connection."
    )
    db_acquire_timeout: float = Field(
        default=0.8,
        gt=0,
        description=(
            "Seconds one request may spend, in all, waiting for pooled connections before it "
            "answers 503: a database that is down or saturated costs a client under a second."
        ),
    )
    statement_timeout_ms: int = Field(
        default=5000, ge=1, description="Longest an API statement may run (then 504)."
    )
    export_statement_timeout_ms: int = Field(
        default=300_000,
        ge=1,
        description=(
            "Longest one step of an export may run (each fetch of 1,000 rows). Exports "
            "stream for minutes and a selective filter may scan long for a chunk: the "
            "API's statement timeout would cut them mid-file."
        ),
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (then 413)."
    )
    max_import_bytes: int = Field(
        default=20_971_520,
        ge=1024,
        description=(
            "Largest body of POST /books/import (then 413); it is held in memory while "
            "imported. Bigger files: bookstore import FILE."
        ),
    )
    cursor_secret: str | None = Field(
        default=None,
        description=(
            "Key that signs pagination cursors so a tampered one is refused; when unset, a "
            "random key generated once per installation and stored in the database."
        ),
    )
    search_log: bool = Field(
        default=True,
        description="Log searches to search_logs (BOOKSTORE_SEARCH_LOG=off to disable).",
    )
    search_log_flush_interval: float = Field(
        default=0.05,
        gt=0,
        description="Seconds between batch writes of search logs (also written on shutdown).",
    )
    search_queue_sweep_interval: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds between looks at the search index queue: books a stopped import left "
            "queued are indexed once the queue has not moved for that long."
        ),
    )
    search_log_retention_days: int = Field(
        default=90,
        ge=1,
        description=(
            "Days of raw search-log rows kept; older whole UTC days are dropped hourly "
            "(and by `bookstore logs prune`). The insights' rollups are kept."
        ),
    )
    production: bool = Field(
        default=False,
        description=(
            "Served over HTTPS: the admin's session cookie is sent only over HTTPS, and "
            "writes must come from a page on one of allowed_hosts."
        ),
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated host names the admin is served under, e.g. shop.example. Under "
            "HTTPS the admin refuses writes whose Origin/Referer is not one of them."
        ),
    )
    admin_login_attempts: int = Field(
        default=20,
        ge=1,
        description="Admin logins one client address may attempt per admin_login_window.",
    )
    admin_login_window: int = Field(
        default=300,
        ge=1,
        description=(
            "Seconds over which admin_login_attempts are counted; a client over the limit "
            "is refused (429) for as long again."
        ),
    )
    cache_mb: float = Field(
        default=64,
        ge=0,
        description=(
            "Megabytes of listing and search responses each process keeps in memory, "
            "until the catalog changes (0 turns the cache off)."
        ),
    )
    kept_terms: int = Field(
        default=10_000,
        ge=0,
        description=(
            "Search terms whose vocabulary lookup each process keeps in memory until the "
            "catalog changes, the least recently used dropped beyond (0.4 to 2.5 KB a term), "
            "and as many first pages' planned statements (about 1.7 KB each, some 6 KB for "
            "a long text that finds nothing; 0: every search looks its terms up and plans "
            "its page)."
        ),
    )
    list_max_age_s: int = Field(
        default=0,
        ge=0,
        description=(
            "max-age of the Cache-Control header on listings and searches: how long a "
            "browser or CDN may reuse one without asking (0: always ask, with If-None-Match)."
        ),
    )
    replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated PostgreSQL URLs of streaming replicas; listings and searches "
            "read from the healthy ones."
        ),
    )
    replica_max_lag_s: float = Field(
        default=5,
        gt=0,
        description="Seconds a replica may lag before it is left out until it catches up.",
    )
    pgbouncer: bool = Field(
        default=False,
        description=(
            "DATABASE_URL is a PgBouncer in transaction mode: session settings are not sent "
            "when connecting (PgBouncer refuses them; its connect_query sets them, see "
            "docs/deployment.md) and the catalog version is polled rather than LISTENed for."
        ),
    )
    db_statement_cache_size: int = Field(
        default=100,
        ge=0,
        description=(
            "Prepared statements asyncpg keeps per connection; 0 behind a PgBouncer older "
            "than 1.21 or without max_prepared_statements."
        ),
    )

    @field_validator("cors_origins", "allowed_hosts", "replica_urls", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def model_post_init(self, __context: object) -> None:
        self.data_dir = self.data_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The settings of this process; cached because the environment is read once."""
    return Settings()
