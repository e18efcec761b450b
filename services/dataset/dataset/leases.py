"""Leases on the rows of background tasks (import tasks, versions being published): ``shared.db.lease``.

A runner claims a ``QUEUED`` row, or a running one whose lease expired (its process died), and renews its
lease every fifth of ``task_stale_seconds`` while it works; the sweeper (:mod:`dataset.resume`) starts a
runner for every unfinished row, and the claim keeps each to one runner. A runner whose lease is lost (it
could not renew in time and another took over) is cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from dataset.config import Settings
from dataset.models import TaskStatus
from shared.db.base import utcnow
from shared.db.conflicts import retry_conflicts
from shared.db.lease import LeaseLost, Leases, holder_name, keep_lease
from shared.logging import get_logger
from shared.service import ServiceRuntime

__all__ = ["claim_task", "failure_reason", "keep_task_lease", "run_leased"]

log = get_logger(__name__)


def _lease_seconds(runtime: ServiceRuntime[Settings]) -> float:
    return runtime.settings.task_stale_seconds


async def claim_task(
    runtime: ServiceRuntime[Settings], model: Any, tenant_id: str, task_id: str, running: str
) -> str | None:
    """Take a queued (or abandoned running) task row; the lease holder's name, or None if another runner
    has it or it is finished."""
    holder = holder_name("dataset")
    async with runtime.db.session() as session:
        claimed = await Leases(model).claim(
            session,
            task_id,
            holder,
            _lease_seconds(runtime),
            where=[model.tenant_id == tenant_id, model.status.in_((TaskStatus.QUEUED, running))],
            values={"status": running, "updated_at": utcnow()},
        )
    return holder if claimed else None


def keep_task_lease(
    runtime: ServiceRuntime[Settings], model: Any, task_id: str, holder: str
) -> AbstractAsyncContextManager[None]:
    """Renew the runner's lease while the block runs (:class:`~shared.db.lease.LeaseLost` if it is lost)."""
    return keep_lease(runtime.db, Leases(model), task_id, holder, _lease_seconds(runtime))


def failure_reason(exc: Exception) -> str:
    """What a failed task row records: the exception's class and message, bounded."""
    return f"{type(exc).__name__}: {exc}"[:2000]


async def run_leased(
    runtime: ServiceRuntime[Settings],
    model: Any,
    tenant_id: str,
    task_id: str,
    running: str,
    work: Callable[[], Awaitable[None]],
    failed: Callable[[Exception], Awaitable[None]],
) -> None:
    """Claim the task row, run ``work`` while renewing its lease (again when PostgreSQL aborted it for a
    deadlock or serialization conflict: :mod:`shared.db.conflicts`), and hand an exception to ``failed`` (which
    records it on the row). Another runner holds the row, or took it over when the lease was lost: it does the
    work, this one does nothing."""
    holder = await claim_task(runtime, model, tenant_id, task_id, running)
    if holder is None:
        return
    try:
        async with keep_task_lease(runtime, model, task_id, holder):
            async for attempt in retry_conflicts():  # a deadlock with another writer: run it again
                with attempt:
                    await work()
    except LeaseLost:
        return
    except Exception as exc:  # the row records the failure; what was stored stays stored
        log.exception("dataset task failed", table=model.__tablename__, task_id=task_id)
        await failed(exc)
