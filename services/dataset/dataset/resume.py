"""The sweeper that resumes abandoned background tasks (running ones renew a lease: :mod:`dataset.leases`).

A task row that stays ``QUEUED`` (the process that should start it died after the commit) or whose runner's
lease expired (its process died: no renewal for ``task_stale_seconds``) is picked up by the sweeper of any
dataset process running background loops (the worker, or the embedded platform); the claim keeps it to one
runner.
"""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa

from dataset import tasks
from dataset.config import Settings
from dataset.importer import run_import
from dataset.models import UNFINISHED_TASKS, UNFINISHED_VERSIONS, DatasetVersion, ImportTask
from dataset.publish import run_publish
from shared.logging import get_logger
from shared.service import ServiceRuntime

__all__ = ["resume_pending", "task_sweeper"]

log = get_logger(__name__)


async def resume_pending(runtime: ServiceRuntime[Settings]) -> int:
    """Start a runner for every unfinished task (each claims its row, so only queued or stale ones run)."""
    try:
        return await _resume(runtime)
    except Exception as exc:  # noqa: BLE001  # the tasks stay visible as QUEUED/RUNNING; the next sweep tries again
        log.warning("could not resume pending dataset tasks", error=repr(exc))
        return 0


async def _resume(runtime: ServiceRuntime[Settings]) -> int:
    async with runtime.db.session() as session:
        imports = (
            await session.execute(
                sa.select(ImportTask.tenant_id, ImportTask.id).where(ImportTask.status.in_(UNFINISHED_TASKS))
            )
        ).all()
        versions = (
            await session.execute(
                sa.select(DatasetVersion.tenant_id, DatasetVersion.id).where(
                    DatasetVersion.status.in_(UNFINISHED_VERSIONS)
                )
            )
        ).all()
    for tenant_id, task_id in imports:
        tasks.spawn(runtime, run_import(runtime, tenant_id, task_id), f"import-{task_id}")
    for tenant_id, version_id in versions:
        tasks.spawn(runtime, run_publish(runtime, tenant_id, version_id), f"publish-{version_id}")
    return len(imports) + len(versions)


async def task_sweeper(runtime: ServiceRuntime[Settings], stop: asyncio.Event) -> None:
    """Background loop: resume abandoned import and publish tasks every ``task_sweep_seconds``."""
    interval = runtime.settings.task_sweep_seconds
    try:
        while not stop.is_set():
            await resume_pending(runtime)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        await tasks.stop_all(runtime)
