"""The events that move a project's round forward (each handled once, in the inbox's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.dataset import VersionChecked, VersionFailed, VersionPublished
from shared.events.inference import ServiceFailed, ServiceRunning
from shared.events.registry import ModelVersionRegistered
from shared.events.training import JobFailed, JobProgressed, JobStopped, JobSucceeded
from shared.events.workflow import PhaseStarted
from shared.messaging import Envelope, HandlerRegistry
from workflow.engine import WorkflowEngine
from workflow.phases import InstanceType


def register_consumers(consumer: HandlerRegistry) -> None:
    # The handlers keep their nested names: a handler's qualified name is its key in the inbox.
    def engine(session: AsyncSession, envelope: Envelope[Any]) -> WorkflowEngine:
        return WorkflowEngine(session, consumer.runtime, envelope.tenantid)

    @consumer.handler(PhaseStarted)
    async def phase_started(session: AsyncSession, envelope: Envelope[PhaseStarted]) -> None:
        await engine(session, envelope).on_phase_started(envelope.data.phase_id)

    @consumer.handler(VersionPublished)
    async def version_published(session: AsyncSession, envelope: Envelope[VersionPublished]) -> None:
        event = envelope.data
        await engine(session, envelope).on_instance_done(
            InstanceType.DATASET_VERSION,
            event.version_id,
            {
                "version_name": event.version_name,
                "train_count": event.train_count,
                "eval_count": event.eval_count,
                "statistics": event.statistics,
            },
        )

    @consumer.handler(VersionFailed)
    async def version_failed(session: AsyncSession, envelope: Envelope[VersionFailed]) -> None:
        event = envelope.data
        await engine(session, envelope).on_instance_failed(
            InstanceType.DATASET_VERSION,
            event.version_id,
            f"publishing dataset version {event.version_name} failed: {event.error_msg}"[:2000],
        )

    @consumer.handler(VersionChecked)
    async def version_checked(session: AsyncSession, envelope: Envelope[VersionChecked]) -> None:
        event = envelope.data
        if event.passed:
            violations = [v.model_dump(mode="json") for v in event.violations]
            await engine(session, envelope).on_instance_done(
                InstanceType.DATASET_CHECK, event.version_id, {"violations": violations}
            )
            return
        errors = [v.msg or v.rule for v in event.violations if v.level == "error"]
        await engine(session, envelope).on_instance_failed(
            InstanceType.DATASET_CHECK, event.version_id, "data check failed: " + "; ".join(errors)[:2000]
        )

    @consumer.handler(JobProgressed)
    async def job_progressed(session: AsyncSession, envelope: Envelope[JobProgressed]) -> None:
        event = envelope.data
        await engine(session, envelope).on_progress(event.job_id, event.progress, event.best_metric)

    @consumer.handler(JobSucceeded)
    async def job_succeeded(session: AsyncSession, envelope: Envelope[JobSucceeded]) -> None:
        event = envelope.data
        await engine(session, envelope).on_instance_done(
            InstanceType.TRAINING_JOB,
            event.job_id,
            {
                "metrics": event.metrics,
                # The job's own best metric replaces the last progress event's (one source: the job).
                "best_metric": event.best_metric,
                "engine": event.engine,
                "package_uri": event.package_uri,
                "stopped_early": event.stopped_early,
                "quality": event.quality,
            },
        )

    @consumer.handler(JobFailed)
    async def job_failed(session: AsyncSession, envelope: Envelope[JobFailed]) -> None:
        event = envelope.data
        await engine(session, envelope).on_instance_failed(
            InstanceType.TRAINING_JOB, event.job_id, f"{event.error_code}: {event.error_msg}"
        )

    @consumer.handler(JobStopped)
    async def job_stopped(session: AsyncSession, envelope: Envelope[JobStopped]) -> None:
        await engine(session, envelope).on_instance_failed(
            InstanceType.TRAINING_JOB, envelope.data.job_id, "training stopped", stopped=True
        )

    @consumer.handler(ModelVersionRegistered)
    async def model_registered(session: AsyncSession, envelope: Envelope[ModelVersionRegistered]) -> None:
        event = envelope.data
        if event.training_job_id:
            await engine(session, envelope).on_model_registered(
                event.training_job_id,
                {
                    "model_id": event.model_id,
                    "model_name": event.model_name,
                    "model_version": event.model_version,
                    "version_id": event.version_id,
                },
            )

    @consumer.handler(ServiceRunning)
    async def service_running(session: AsyncSession, envelope: Envelope[ServiceRunning]) -> None:
        await engine(session, envelope).on_instance_done(
            InstanceType.SERVICE, envelope.data.service_id, {"status": "running"}
        )

    @consumer.handler(ServiceFailed)
    async def service_failed(session: AsyncSession, envelope: Envelope[ServiceFailed]) -> None:
        event = envelope.data
        await engine(session, envelope).on_instance_failed(
            InstanceType.SERVICE, event.service_id, event.error_msg or "deployment failed"
        )
