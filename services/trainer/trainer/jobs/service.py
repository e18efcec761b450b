"""Rules of training jobs: create (validate + dispatch), list, get, stop, delete."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Page, utcnow
from shared.errors import DatasetNotFound, ErrorDetail, InvalidInput
from shared.events.training import JobCreated, JobStopped
from shared.service import ServiceRuntime
from trainer.config import Settings
from trainer.dispatch import add_job_message
from trainer.engines import ENGINES
from trainer.errors import JobNotStoppable, JobStillRunning
from trainer.jobs.repository import TrainingJobRepository
from trainer.jobs.schemas import TrainingJobCreate
from trainer.models import FINAL_STATUSES, HELD_STATUSES, JobStatus, PublishedVersion, TrainingJob
from trainer.versions import TASK_TYPE_OF_DATASET, PublishedVersionRepository

__all__ = ["TrainingJobService"]

INCREMENTAL_FIELD = "parameters.incremental_training_version"


def _invalid(rule: str, msg: str, field: str, value: object = None) -> InvalidInput:
    return InvalidInput(msg, details=[ErrorDetail(rule=rule, msg=msg, field=field, value=value)])


class TrainingJobService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.jobs = TrainingJobRepository(session, tenant_id)
        self.versions = PublishedVersionRepository(session, tenant_id)

    async def create(self, body: TrainingJobCreate) -> TrainingJob:
        if body.task_type not in ENGINES:
            raise _invalid(
                "task_type_unknown",
                f"no engine trains task type {body.task_type!r}; known: {', '.join(sorted(ENGINES))}",
                "task_type",
                body.task_type,
            )
        version = await self._published_version(body)
        if body.parameters.incremental_training_version:
            await self._check_incremental(body, version)
        job = await self.jobs.add(
            TrainingJob(
                name=body.name or f"job-{utcnow():%Y%m%d-%H%M%S}",
                description=body.description,
                project_id=body.project_id,
                project_name=body.project_name,
                dataset_id=body.dataset_id,
                dataset_version_id=body.dataset_version_id,
                task_type=body.task_type,
                flavor=body.flavor,
                parameters=body.parameters.model_dump(),
                budget_seconds=self._budget_seconds(body.parameters.max_training_duration),
                labels=list(version.labels),
                status=JobStatus.PENDING,
                attempt=0,
                attempts=[],
                phase="queued",
                phase_timings=[{"phase": "queued", "started_at": utcnow().isoformat(), "seconds": None}],
                logs=[],
            )
        )
        await self.runtime.outbox.add(
            self.session,
            JobCreated(**job.event_fields(), flavor=job.flavor),
            subject=job.id,
            tenant_id=self.tenant_id,
        )
        await add_job_message(
            self.session,
            self.runtime.outbox,
            job_id=job.id,
            tenant_id=self.tenant_id,
            flavor=job.flavor,
            attempt=0,
        )
        return job

    def _budget_seconds(self, minutes: int) -> float:
        cap = self.runtime.settings.budget_cap_seconds
        return float(minutes * 60 if cap is None else min(cap, minutes * 60))

    async def _published_version(self, body: TrainingJobCreate) -> PublishedVersion:
        version = await self.versions.find_version(body.dataset_version_id)
        if version is None:
            raise DatasetNotFound(f"dataset version {body.dataset_version_id} is not published")
        if version.dataset_id != body.dataset_id:
            raise _invalid(
                "version_of_other_dataset",
                f"version {version.version_id} belongs to another dataset",
                "dataset_version_id",
                body.dataset_version_id,
            )
        expected = TASK_TYPE_OF_DATASET.get(version.dataset_type_name)
        if expected != body.task_type:
            raise _invalid(
                "task_type_mismatch",
                f"a {version.dataset_type_name} dataset trains task type "
                f"{expected!r}, not {body.task_type!r}",
                "task_type",
                body.task_type,
            )
        return version

    async def _check_incremental(self, body: TrainingJobCreate, version: PublishedVersion) -> None:
        ref = body.parameters.incremental_training_version
        previous = await self.jobs.find(ref or "")
        if previous is None:
            raise _invalid(
                "incremental_unknown", f"training job {ref} does not exist", INCREMENTAL_FIELD, ref
            )
        if previous.project_id != body.project_id:
            raise _invalid(
                "incremental_other_project",
                f"training job {ref} belongs to another project",
                INCREMENTAL_FIELD,
                ref,
            )
        if previous.status != JobStatus.COMPLETED or not previous.package_uri:
            raise _invalid(
                "incremental_not_completed",
                f"training job {ref} has no model (status {previous.status})",
                INCREMENTAL_FIELD,
                ref,
            )
        if previous.task_type != body.task_type:
            raise _invalid(
                "incremental_other_task",
                f"training job {ref} trained {previous.task_type}",
                INCREMENTAL_FIELD,
                ref,
            )
        if sorted(previous.labels) != sorted(version.labels):
            raise _invalid(
                "incremental_label_set",
                f"training job {ref} was trained on another label set",
                INCREMENTAL_FIELD,
                ref,
            )

    async def search(self, **filters) -> Page[TrainingJob]:
        return await self.jobs.search(**filters)

    async def get(self, job_id: str) -> TrainingJob:
        return await self.jobs.get(job_id)

    async def stop(self, job_id: str) -> TrainingJob:
        """Pending: terminated at once. Running: terminating; the worker stops at its next heartbeat."""
        job = await self.jobs.get(job_id)
        if job.status in FINAL_STATUSES:
            raise JobNotStoppable(f"training job {job_id} is {job.status}: nothing to stop")
        if job.status in (JobStatus.CREATING, JobStatus.PENDING):
            job.status, job.stop_reason, job.finished_at = JobStatus.TERMINATED, "user", utcnow()
            job.phase, job.lease_expires_at, job.worker_id = None, None, None
            await self.runtime.outbox.add(
                self.session,
                JobStopped(**job.event_fields(), reason="user"),
                subject=job.id,
                tenant_id=self.tenant_id,
            )
        elif job.status == JobStatus.RUNNING:
            job.status, job.stop_reason = JobStatus.TERMINATING, "user"
        await self.session.flush()
        return job

    async def delete(self, job_id: str) -> None:
        """Delete a job that does not run; its model package stays (a registered model may use it)."""
        job = await self.jobs.get(job_id)
        if job.status in HELD_STATUSES:
            raise JobStillRunning(f"training job {job_id} is {job.status}: stop it first")
        await self.jobs.delete(job)
