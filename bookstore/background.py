"""Stopping the service's background tasks (catalog version, replica checks, log upkeep)."""

from __future__ import annotations

import asyncio
import contextlib


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
