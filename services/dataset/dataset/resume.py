"""Resuming the import and publish tasks a stopped process left behind."""

from __future__ import annotations

import sqlalchemy as sa

from dataset import tasks
from dataset.importer import run_import
from dataset.models import DatasetVersion, ImportTask
from dataset.publish import run_publish
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)

__all__ = ["resume_pending"]


async def resume_pending(runtime: ServiceRuntime) -> int:
    """Start a runner for every unfinished task (each claims its row, so only stale or queued ones run)."""
    try:
        return await _resume(runtime)
    except Exception as exc:  # startup goes on; the tasks stay visible as QUEUED/RUNNING
        log.warning("could not resume pending dataset tasks", error=repr(exc))
        return 0


async def _resume(runtime: ServiceRuntime) -> int:
    async with runtime.db.session() as session:
        imports = (await session.execute(sa.select(ImportTask.tenant_id, ImportTask.id).where(
            ImportTask.status.in_(("QUEUED", "RUNNING"))))).all()
        versions = (await session.execute(sa.select(DatasetVersion.tenant_id, DatasetVersion.id).where(
            DatasetVersion.status.in_(("QUEUED", "CREATING"))))).all()
    for tenant_id, task_id in imports:
        tasks.spawn(run_import(runtime, tenant_id, task_id), f"import-{task_id}")
    for tenant_id, version_id in versions:
        tasks.spawn(run_publish(runtime, tenant_id, version_id), f"publish-{version_id}")
    return len(imports) + len(versions)
