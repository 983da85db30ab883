"""The admin's own engine and pool, planned per value."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

from bookstore.admin.tables import ADMIN_TABLES
from bookstore.database import keep_session, session_settings, with_server_settings
from bookstore.settings import get_settings

ADMIN_POOL_SIZE = 4
ADMIN_STATEMENT_TIMEOUT_MS = 15_000


@asynccontextmanager
async def admin_database(app: object) -> AsyncIterator[None]:
    """A lifespan giving the admin's tables an engine and pool of their own.

    ``plan_cache_mode=force_custom_plan``: each list page is planned for its
    own filter values, so "title contains zebra" uses the trigram index and
    "title contains a" walks the title index, however often either ran
    before. The pool of its own keeps staff's counts from holding the
    connections customers' searches wait for. Without this lifespan (an admin
    app built alone, in tests) the tables fall back to the shared engine.
    """
    shared = await asyncio.to_thread(engine_finder)  # may start the embedded server
    if not isinstance(shared, PostgresEngine):
        raise RuntimeError("piccolo_conf.DB must be a PostgresEngine")
    config = with_server_settings(
        shared.config,
        **session_settings(
            get_settings(),
            application_name="bookstore-admin",
            plan_cache_mode="force_custom_plan",
            statement_timeout=str(ADMIN_STATEMENT_TIMEOUT_MS),
        ),
    )
    # Building an engine checks the server version: a blocking round trip.
    engine = await asyncio.to_thread(PostgresEngine, config=config)
    # No RESET ALL on release (see bookstore.database.keep_session).
    await engine.start_connection_pool(min_size=1, max_size=ADMIN_POOL_SIZE, reset=keep_session)
    for table in ADMIN_TABLES:
        table._meta.db = engine
    try:
        yield
    finally:
        for table in ADMIN_TABLES:
            table._meta.db = shared
        await engine.close_connection_pool()
