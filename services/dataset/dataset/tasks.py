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

__all__ = ["start_after_commit", "spawn", "stop_all"]

log = get_logger(__name__)

# The running tasks of each runtime (several runtimes share a process in tests and the embedded mode).
_running: dict[int, set[asyncio.Task[Any]]] = {}


def spawn(owner: object, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(coro, name=name)  # type: ignore[arg-type]
    tasks = _running.setdefault(id(owner), set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def start_after_commit(session: AsyncSession, owner: object, make: Callable[[], Awaitable[Any]], name: str) -> None:
    """Start ``make()`` as a background task of ``owner`` once ``session``'s transaction has committed."""
    loop = asyncio.get_running_loop()

    def on_commit(_session: Any) -> None:
        loop.call_soon(lambda: spawn(owner, make(), name))

    sa_event.listen(session.sync_session, "after_commit", on_commit, once=True)


async def stop_all(owner: object, timeout: float = 5.0) -> None:
    """Cancel ``owner``'s running tasks at shutdown: their rows stay RUNNING and are resumed once stale,
    rather than holding database transactions open while the process goes away."""
    tasks = list(_running.pop(id(owner), set()))
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
