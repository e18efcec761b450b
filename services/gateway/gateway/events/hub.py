"""The in-process fan-out of consumed events to the open SSE streams, per tenant."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from shared.messaging import Envelope

__all__ = ["EventHub"]


class EventHub:
    """Open SSE streams per tenant; each gets its own bounded queue (a slow client drops, not blocks). One per
    runtime: ``runtime.component(EventHub)``."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[Envelope[Any]]]] = defaultdict(set)

    def subscribe(self, tenant_id: str) -> asyncio.Queue[Envelope[Any]]:
        queue: asyncio.Queue[Envelope[Any]] = asyncio.Queue(maxsize=1000)
        self._streams[tenant_id].add(queue)
        return queue

    def unsubscribe(self, tenant_id: str, queue: asyncio.Queue[Envelope[Any]]) -> None:
        self._streams[tenant_id].discard(queue)

    def publish(self, envelope: Envelope[Any]) -> None:
        for queue in list(self._streams.get(envelope.tenantid, ())):
            if queue.full():
                queue.get_nowait()  # drop the oldest for this slow reader
            queue.put_nowait(envelope)
