"""Traffic split between the versions of a service: smooth weighted round robin.

Each request goes to the entry whose running credit is highest; that entry then pays back the total.
Over any window of 100 requests the split equals the weights exactly (70/30 gives 70 and 30), with the
versions interleaved rather than in runs, and an entry of weight 0 gets nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from shared.singleflight import SingleFlight

__all__ = ["ServingConfigCache", "WeightedRouter"]

Load = Callable[[], Awaitable[tuple[str, list]]]


class WeightedRouter:
    """Per-process router state, one credit table per (service, config)."""

    def __init__(self) -> None:
        self._credits: dict[tuple[str, tuple[tuple[str, int], ...]], list[int]] = {}
        self._lock = threading.Lock()

    def pick(self, service_id: str, entries: Sequence[tuple[str, int]]) -> int:
        """Index of the entry (name, weight) that serves the next request."""
        key = (service_id, tuple(entries))
        weights = [w for _, w in entries]
        total = sum(weights)
        with self._lock:
            credits = self._credits.setdefault(key, [0] * len(entries))
            for i, weight in enumerate(weights):
                credits[i] += weight
            best = max(range(len(entries)), key=lambda i: credits[i])
            credits[best] -= total
        return best

    def forget(self, service_id: str) -> None:
        with self._lock:
            for key in [k for k in self._credits if k[0] == service_id]:
                del self._credits[key]


class ServingConfigCache:
    """The status and serving config of services, so that a prediction needs no query.

    An entry is fresh for ``ttl`` seconds, then served ``ttl`` seconds more while one query refreshes it in the
    background; older, the request waits for the query. However many predictions come at once, one query per
    service is in flight (the others wait for its answer). Changes made in this process drop the entry at once
    (:meth:`forget`; a query that started before is not stored); another process's changes are seen within
    ``2 * ttl``. A stale entry never breaks a request: a model unloaded meanwhile makes the call fail, and the
    caller retries once on fresh config (``fresh=True``).
    """

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._entries: dict[tuple[str, str], tuple[float, str, list]] = {}
        self._queries: SingleFlight[tuple[str, str], tuple[str, list]] = SingleFlight()
        self._generation: dict[tuple[str, str], int] = {}

    async def get(
        self, tenant_id: str, service_id: str, load: Load, *, fresh: bool = False
    ) -> tuple[str, list]:
        """``(status, config)`` of the service; ``load`` queries them (and raises if the tenant has no such
        service)."""
        key = (tenant_id, service_id)
        entry = None if fresh else self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self.ttl:
            return entry[1], entry[2]  # the usual case: nothing else to do
        query = partial(self._query, key, load, self._generation.get(key, 0))
        if entry is not None and self._clock() - entry[0] < 2 * self.ttl:
            self._queries.start(key, query)  # stale: answered while one query refreshes it in the background
            return entry[1], entry[2]
        return await self._queries.run(key, query, again=fresh)

    async def _query(self, key: tuple[str, str], load: Load, generation: int) -> tuple[str, list]:
        try:
            status, config = await load()
        except BaseException:
            self._entries.pop(key, None)  # e.g. deleted: the next request asks again and gets the error
            raise
        if self._generation.get(key, 0) == generation:  # not forgotten meanwhile
            self._entries[key] = (self._clock(), status, config)
        return status, config

    def forget(self, service_id: str) -> None:
        for key in {k for k in (*self._entries, *self._queries.keys()) if k[1] == service_id}:
            self._entries.pop(key, None)
            self._queries.forget(key)
            self._generation[key] = self._generation.get(key, 0) + 1
