"""Which PostgreSQL the service talks to, and the engine that talks to it."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

from bookstore.embedded import EmbeddedPostgres
from bookstore.settings import Settings, get_settings


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.data_dir, database=settings.database_name)


def resolve_dsn(settings: Settings | None = None) -> str:
    """``DATABASE_URL`` when set, else the embedded server (started on demand).

    Blocking: call it before the event loop runs or from a worker thread.
    """
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server(settings).ensure_running()


def create_engine(dsn: str) -> PostgresEngine:
    """The Piccolo engine for ``dsn``.

    ``plan_cache_mode=force_custom_plan``: asyncpg prepares every statement,
    and after five runs PostgreSQL may switch to a generic plan that ignores
    the parameter values. Our data is skewed (a category with 10% of the
    books next to one with 0.01%), so a plan per value is worth its cost.
    """
    return PostgresEngine(
        config={
            "dsn": dsn,
            "server_settings": {
                "application_name": "bookstore",
                "plan_cache_mode": "force_custom_plan",
            },
        }
    )
