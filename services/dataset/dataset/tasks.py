"""Background work of the API process: import and publish tasks run as asyncio tasks.

The task row is the truth: a route writes it (status ``QUEUED``) in its transaction and asks for the
work to start once that transaction has committed. The runner claims the row (``QUEUED`` → ``RUNNING``, or a
``RUNNING`` row whose progress stopped for ``task_stale_seconds``: its process died), so a task runs once even if
several processes try, and :func:`resume_pending` picks up what a restart interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from shared.logging import get_logger

__all__ = ["start_after_commit", "spawn", "drain"]

log = get_logger(__name__)

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(coro, name=name)  # type: ignore[arg-type]
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def start_after_commit(session: AsyncSession, make: Callable[[], Awaitable[Any]], name: str) -> None:
    """Start ``make()`` as a background task once ``session``'s transaction has committed."""
    loop = asyncio.get_running_loop()

    def on_commit(_session: Any) -> None:
        loop.call_soon(lambda: spawn(make(), name))

    sa_event.listen(session.sync_session, "after_commit", on_commit, once=True)


async def drain(timeout: float = 60.0) -> None:
    """Wait for the background tasks running now (tests, benchmarks, shutdown)."""
    if _running:
        await asyncio.wait(list(_running), timeout=timeout)
