"""The training worker: pulls job messages of its flavors, claims jobs under a lease, supervises runs.

One job at a time: the worker asks its queues for a message only when idle. It claims the job in the
database (see :mod:`trainer.leases`), acks the message at once (a run outlasts any broker ack timeout) and
runs the training in a child process (:mod:`trainer.runner`, multiprocessing spawn). While the child
works, the worker heartbeats: it extends the lease, stores progress, phase timings and log lines, and
reads the job's status; ``terminating`` (a stop request) or the end of the budget tells the child to stop
gracefully, so the engine packages the best model so far. A worker that cannot renew its lease before it
expires, or finds it taken, kills its child at once: no job runs twice at the same time. A sweeper loop
re-dispatches jobs whose lease expired (their worker died).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

import sqlalchemy as sa

from shared.logging import get_logger
from shared.messaging import Delivery, decode_envelope
from shared.service import ServiceRuntime
from trainer.config import Settings
from trainer.dispatch import JobDispatched, job_queue, job_queue_spec
from trainer.leases import Holder, claim, redispatch_stale, sweep_expired
from trainer.models import PublishedVersion, TrainingJob
from trainer.run_supervisor import RunSupervisor, UploadHistory
from trainer.runner import DATA_ERROR, RunSpec

__all__ = ["TrainingWorker"]

log = get_logger(__name__)


class TrainingWorker:
    def __init__(self, runtime: ServiceRuntime[Settings], worker_id: str | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.worker_id = worker_id or self.settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.queues = [job_queue(self.settings, flavor) for flavor in self.settings.worker_flavors]
        self.uploads = UploadHistory()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve jobs and sweep expired leases until ``stop`` is set."""
        for flavor in self.settings.worker_flavors:
            await self.runtime.transport.declare_queue(job_queue_spec(self.settings, flavor))
        sweeper = asyncio.create_task(self._sweep_loop(stop), name="trainer-sweeper")
        log.info("training worker running", worker_id=self.worker_id, queues=self.queues)
        try:
            while not stop.is_set():
                delivery = await self._next_delivery()
                if delivery is None:
                    await _sleep_unless(stop, self.settings.worker_poll_seconds)
                    continue
                await self._handle(delivery, stop)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _next_delivery(self) -> Delivery | None:
        for name in self.queues:
            try:
                delivery = await self.runtime.transport.get(name)
            except Exception as exc:  # noqa: BLE001  # broker away: try again at the next poll
                log.warning("job queue unavailable", queue=name, error=repr(exc))
                return None
            if delivery is not None:
                return delivery
        return None

    async def _handle(self, delivery: Delivery, stop: asyncio.Event) -> None:
        try:
            message = JobDispatched.model_validate(decode_envelope(delivery.body).data)
        except Exception as exc:  # noqa: BLE001  # whatever makes it unreadable, it never becomes readable
            log.error("dead-lettering an unreadable job message", error=repr(exc))
            await delivery.dead_letter(f"unreadable job message: {exc}")
            return
        try:
            spec, holder = await self._claim(message.job_id)
        except Exception as exc:  # noqa: BLE001  # database or broker hiccup: the message is tried again
            log.warning("claim failed, message requeued", job_id=message.job_id, error=repr(exc))
            await delivery.requeue()
            return
        await delivery.ack()
        if holder is None:
            log.info("job not claimable (taken, ended or deleted)", job_id=message.job_id)
            return
        await RunSupervisor(self.runtime, self.settings, holder, spec, self.uploads).run(stop)

    async def _claim(self, job_id: str) -> tuple[RunSpec | dict[str, Any], Holder | None]:
        async with self.runtime.db.session() as session:
            job = await claim(
                session,
                self.runtime.outbox,
                job_id,
                self.worker_id,
                self.settings.lease_seconds,
                self.settings.max_attempts,
            )
            if job is None:
                return {}, None
            holder = Holder(job.id, self.worker_id, job.attempt)
            log.info("job claimed", job_id=job.id, worker_id=self.worker_id, attempt=job.attempt)
            return await self._spec(session, job), holder

    async def _spec(self, session: Any, job: TrainingJob) -> RunSpec | dict[str, Any]:
        """What the child needs; a dict with an error instead when the job cannot run at all."""
        version = (
            await session.execute(
                sa.select(PublishedVersion).where(
                    PublishedVersion.tenant_id == job.tenant_id,
                    PublishedVersion.version_id == job.dataset_version_id,
                )
            )
        ).scalar_one_or_none()
        if version is None:
            return {
                "status": "error",
                "error_code": DATA_ERROR,
                "error_msg": f"dataset version {job.dataset_version_id} is no longer published",
            }
        previous_uri = None
        if ref := job.parameters.get("incremental_training_version"):
            previous_uri = (
                await session.execute(
                    sa.select(TrainingJob.package_uri).where(
                        TrainingJob.tenant_id == job.tenant_id, TrainingJob.id == ref
                    )
                )
            ).scalar_one_or_none()
        package_uri = str(
            self.runtime.storage_policy.platform_folder("training", job.tenant_id, job.id, "package")
        )
        return RunSpec(
            job_id=job.id,
            tenant_id=job.tenant_id,
            attempt=job.attempt,
            task_type=job.task_type,
            parameters=dict(job.parameters),
            deadline_epoch=0.0,  # set when the child starts
            packaging_margin_seconds=min(self.settings.packaging_margin_seconds, job.budget_seconds * 0.25),
            version=_version_dict(version),
            package_uri=package_uri,
            work_dir="",
            settings=self.settings,
            incremental_package_uri=previous_uri,
        )

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.runtime.db.session() as session:
                    swept = await sweep_expired(session, self.runtime.outbox, self.settings.max_attempts)
                if swept:
                    log.warning("expired leases swept", job_ids=swept, worker_id=self.worker_id)
                async with self.runtime.db.session() as session:
                    resent = await redispatch_stale(
                        session, self.runtime.outbox, self.settings.redispatch_pending_seconds
                    )
                if resent:
                    log.info("job messages re-sent for waiting jobs", job_ids=resent)
            except Exception as exc:  # noqa: BLE001  # the sweeper outlives a database or broker hiccup
                log.warning("sweep failed", error=repr(exc))
            await _sleep_unless(stop, self.settings.sweep_seconds)


def _version_dict(version: PublishedVersion) -> dict[str, Any]:
    return {
        "dataset_id": version.dataset_id,
        "version_id": version.version_id,
        "version_name": version.version_name,
        "dataset_type_name": version.dataset_type_name,
        "manifest_uri": version.manifest_uri,
        "train_ratio": version.train_ratio,
        "labels": list(version.labels or []),
        "label_column": version.label_column,
        "table_schema": version.table_schema,
    }


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
