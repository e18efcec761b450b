"""Background work of the API process: import and publish tasks run as asyncio tasks.

The task row is the truth: a route writes it (status ``QUEUED``) in its transaction and asks for the
work to start once that transaction has committed. The runner claims the row (``QUEUED`` → ``RUNNING``, or a
``RUNNING`` row whose progress stopped for ``task_stale_seconds``: its process died), so a task runs once even if
several processes try, and :func:`resume_pending` picks up what a restart interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import after_commit
from shared.logging import get_logger

__all__ = ["spawn", "start_after_commit", "stop_all"]

log = get_logger(__name__)

# The running tasks of each runtime (several runtimes share a process in tests and the embedded mode).
_running: dict[int, set[asyncio.Task[Any]]] = {}


def spawn(owner: object, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(coro, name=name)
    tasks = _running.setdefault(id(owner), set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def start_after_commit(
    session: AsyncSession, owner: object, make: Callable[[], Coroutine[Any, Any, Any]], name: str
) -> None:
    """Start ``make()`` as a background task of ``owner`` once ``session``'s transaction has committed."""
    loop = asyncio.get_running_loop()
    after_commit(session, lambda: loop.call_soon(lambda: spawn(owner, make(), name)))


async def stop_all(owner: object, timeout: float = 5.0) -> None:
    """Cancel ``owner``'s running tasks at shutdown: their rows stay RUNNING and are resumed once stale,
    rather than holding database transactions open while the process goes away."""
    tasks = list(_running.pop(id(owner), set()))
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
