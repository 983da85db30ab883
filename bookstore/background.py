"""The service's background tasks: started with the app, stopped with it.

Catalog version, replica checks, search-log upkeep and the search-queue
sweeper each run on the event loop beside the requests; the periodic ones
share ``Periodic``, so that a failed round never ends the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has stopped.

    Waiting matters at shutdown: a task still running when its connections
    are closed under it logs errors, or opens a new one as the loop ends.
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Periodic:
    """``step`` every ``interval_s`` seconds, from ``start()`` until ``stop()``.

    A round that fails (the database restarting, say) is logged and the next
    round tries again: a background task that died on one error would leave
    its work undone, silently, until the service restarts. ``first_now``
    runs a round at once; otherwise the first waits an interval (for a caller
    that ran one itself before starting).
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        first_now: bool = True,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._step = step
        self._first_now = first_now
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        if not self._first_now:
            await asyncio.sleep(self.interval_s)
        while True:
            try:
                await self._step()
            except Exception:
                logger.exception("%s failed; trying again in %s s", self.name, self.interval_s)
            await asyncio.sleep(self.interval_s)
