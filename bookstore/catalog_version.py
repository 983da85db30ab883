"""The catalog version this process knows, kept current from the primary.

Every write to books, authors, categories or book_category bumps one row,
``catalog_version``, and announces the new number with ``NOTIFY
catalog_version`` (migration 2026-11-29T02:30). The number keys the
in-memory response cache (``bookstore.response_cache``) and the listings'
ETags (``bookstore.api.conditional``): a write anywhere makes every
process stop answering from what it kept.

One connection of its own, straight to the primary, LISTENs; the same
connection also reads the row every ``poll_interval_s`` (half a second).
The read is what keeps the promise when the notification cannot: a
listener lost to a restart or a network fault (it reconnects, reading the
row first), or a pooler in transaction mode in between, which delivers no
notification at all (with ``BOOKSTORE_PGBOUNCER`` the version is only
polled). A write is thus seen within a few milliseconds, and within
``poll_interval_s`` at worst. Writes made by this process refresh
the number themselves before they answer (``refresh``), so a client that
writes then reads never sees the older answer.

>>> version = CatalogVersion()
>>> await version.start({"dsn": "postgresql://..."})
>>> version.subscribe(lambda value: print("now", value))
>>> version.value
1764383400123
>>> await version.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from bookstore.background import cancel_task

logger = logging.getLogger(__name__)

CHANNEL = "catalog_version"
READ_VERSION = "SELECT version FROM catalog_version"
POLL_INTERVAL_S = 0.5
# How long one read may take before the connection is given up as lost.
READ_TIMEOUT_S = 2.0


class CatalogVersion:
    """The last catalog version read or announced; ``None`` until the first read.

    ``value`` is None while the primary has never been reached: callers
    then neither cache nor tag responses.
    """

    def __init__(
        self,
        *,
        listen: bool = True,
        poll_interval_s: float = POLL_INTERVAL_S,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self._listen = listen
        self._connect_options: dict[str, Any] = {}
        self._poll_interval_s = poll_interval_s
        self._connect_timeout_s = connect_timeout_s
        self._subscribers: list[Callable[[int], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._reading = asyncio.Lock()
        self.value: int | None = None
        self.listening = False

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(new_value)`` whenever the version changes."""
        self._subscribers.append(callback)

    def _set(self, value: int) -> None:
        if value == self.value:
            return
        self.value = value
        for callback in self._subscribers:
            callback(value)

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            self._set(int(payload))
        except ValueError:
            logger.warning("catalog_version: ignored a notification %r", payload)

    async def start(self, connect_options: dict[str, Any]) -> None:
        """Read the version once (if the primary answers), then keep it current.

        ``connect_options``: ``asyncpg.connect`` arguments for the primary.
        """
        self._connect_options = {
            **connect_options,
            "server_settings": {
                **connect_options.get("server_settings", {}),
                "application_name": "bookstore-catalog-version",
            },
        }
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._connect(), timeout=self._connect_timeout_s)
        self._task = asyncio.create_task(self._keep_current(), name="catalog-version")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        self._drop_connection()

    async def refresh(self) -> None:
        """Read the version now: after a write of this process, before it answers.

        On the listener's connection when it is up, else on a new one; a
        failure leaves the version as it was (the poll will catch up).
        """
        try:
            if self._connection is None or self._connection.is_closed():
                connection = await asyncpg.connect(
                    **self._connect_options, timeout=self._connect_timeout_s
                )
                try:
                    self._set(await connection.fetchval(READ_VERSION, timeout=READ_TIMEOUT_S))
                finally:
                    await connection.close()
            else:
                self._set(await self._read(self._connection))
        except Exception as error:
            logger.warning("catalog_version: reading it after a write failed: %r", error)

    async def _read(self, connection: asyncpg.Connection) -> int:
        # The listener's connection may be reading already (the poll): asyncpg
        # refuses two operations at once on one connection.
        async with self._reading:
            return int(await connection.fetchval(READ_VERSION, timeout=READ_TIMEOUT_S))

    async def _connect(self) -> None:
        connection = await asyncpg.connect(
            **self._connect_options, timeout=self._connect_timeout_s
        )
        try:
            # LISTEN first, then read: no bump can fall between the two.
            if self._listen:
                await connection.add_listener(CHANNEL, self._on_notification)
            self._connection = connection
            self._set(await self._read(connection))
        except BaseException:
            self._connection = None
            connection.terminate()
            raise
        self.listening = self._listen

    def _drop_connection(self) -> None:
        self.listening = False
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def _keep_current(self) -> None:
        """Poll on the listener's connection; reconnect when it is lost."""
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                if self._connection is None or self._connection.is_closed():
                    self._drop_connection()
                    await asyncio.wait_for(self._connect(), timeout=self._connect_timeout_s)
                    logger.info("catalog_version: listening again")
                else:
                    self._set(await self._read(self._connection))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.listening:
                    logger.warning("catalog_version: lost the primary (%r), reconnecting", error)
                self._drop_connection()
