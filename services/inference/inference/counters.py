"""Invocation and failure counts of services, added up in memory and written once a second.

A write per prediction would put a row lock and a commit on the hot path of every request; the counts
are statistics, so a crash may lose the last second of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import sqlalchemy as sa

from inference.models import RealTimeService
from shared.db.engine import Database
from shared.logging import get_logger

__all__ = ["CallCounters"]

log = get_logger(__name__)


class CallCounters:
    def __init__(self, db: Database, interval: float = 1.0) -> None:
        self.db, self.interval = db, interval
        self._calls: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._stop = asyncio.Event()

    def count(self, service_id: str, *, failed: bool) -> None:
        self._calls[service_id] += 1
        if failed:
            self._failures[service_id] += 1

    async def flush(self) -> None:
        calls, failures = self._calls, self._failures
        self._calls, self._failures = Counter(), Counter()
        if not calls:
            return
        async with self.db.session() as session:
            for service_id, n in calls.items():
                await session.execute(
                    sa.update(RealTimeService)
                    .where(RealTimeService.id == service_id)
                    .values(
                        invocation_times=RealTimeService.invocation_times + n,
                        failed_times=RealTimeService.failed_times + failures.get(service_id, 0),
                    )
                    .execution_options(synchronize_session=False)
                )

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - statistics must not stop the service
                log.warning("flushing call counts failed", error=repr(exc))

    async def close(self) -> None:
        self._stop.set()
