"""Traffic split between the versions of a service: smooth weighted round robin.

Each request goes to the entry whose running credit is highest; that entry then pays back the total.
Over any window of 100 requests the split equals the weights exactly (70/30 gives 70 and 30), with the
versions interleaved rather than in runs, and an entry of weight 0 gets nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

__all__ = ["ServingConfigCache", "WeightedRouter"]


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
    """The status and serving config of services, kept ``ttl`` seconds so a prediction needs no query.

    Changes made in this process drop the entry at once (:meth:`forget`); another process's changes are seen
    within ``ttl``. A stale entry never breaks a request: a model unloaded meanwhile makes the call fail,
    and the caller retries once on fresh config.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, str, list]] = {}

    def get(self, tenant_id: str, service_id: str) -> tuple[str, list] | None:
        entry = self._entries.get((tenant_id, service_id))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, tenant_id: str, service_id: str, status: str, config: list) -> None:
        self._entries[(tenant_id, service_id)] = (time.monotonic() + self.ttl, status, config)

    def forget(self, service_id: str) -> None:
        for key in [k for k in self._entries if k[1] == service_id]:
            self._entries.pop(key, None)
