"""One call in flight per key: concurrent callers that need the same thing share one call's result.

The caches on the predict path use it so that an entry that expires under load costs one database query, not
one per request in flight (``inference.routing.ServingConfigCache``, ``gateway.verified_keys.VerifiedKeys``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Calls keyed by ``K``: while one for a key runs, :meth:`run` with that key awaits it instead of calling
    again. The call runs in a task of its own, so a caller that gives up cancels only its own wait; an error
    is raised to every caller, and never left unretrieved when nobody awaits it (:meth:`start`)."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]], *, again: bool = False) -> V:
        """The result of the call in flight for ``key``, or of ``call()`` started now; ``again``: start a new
        call even if one is in flight (later callers then share the new one)."""
        return await asyncio.shield(self.start(key, call, again=again))

    def start(self, key: K, call: Callable[[], Awaitable[V]], *, again: bool = False) -> asyncio.Task[V]:
        """The task of the call in flight for ``key``, or of ``call()`` started now (nobody needs to await it)."""
        task = None if again else self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = asyncio.create_task(self._call(key, call))
            task.add_done_callback(_retrieve)
        return task

    def running(self, key: K) -> bool:
        return key in self._tasks

    def keys(self) -> Iterator[K]:
        return iter(list(self._tasks))

    def forget(self, key: K) -> None:
        """Later callers start a new call (the one in flight still answers those already waiting)."""
        self._tasks.pop(key, None)

    async def _call(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        try:
            return await call()
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]


def _retrieve(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()
