"""Heartbeat of a running task row: ``updated_at`` moves while the work runs, so the sweeper leaves it alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from shared.db.base import utcnow
from shared.service import ServiceRuntime

__all__ = ["heartbeat"]


@contextlib.asynccontextmanager
async def heartbeat(runtime: ServiceRuntime, model: Any, row_id: str) -> AsyncIterator[None]:
    interval = max(runtime.settings.task_stale_seconds / 5, 0.05)  # type: ignore[attr-defined]

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval)
            async with runtime.db.session() as session:
                await session.execute(sa.update(model).where(model.id == row_id).values(updated_at=utcnow()))

    task = asyncio.ensure_future(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
