"""Handlers of other services' events that the registry service reacts to."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from registry.repository import UsageRepository
from registry.service import Registration, RegistryService
from shared.events.inference import (
    ServiceDeleted,
    ServiceDeploying,
    ServiceEvent,
    ServiceFailed,
    ServiceRunning,
    ServiceStopped,
)
from shared.events.training import JobSucceeded
from shared.messaging import Envelope, HandlerRegistry

# A service in these states holds its versions: they cannot be deleted.
_HOLDING = (ServiceDeploying, ServiceRunning)


def register_consumers(consumer: HandlerRegistry) -> None:
    """Attach this service's event handlers to ``consumer``."""

    @consumer.handler(JobSucceeded, name="register_trained_model")
    async def register_trained_model(session: AsyncSession, envelope: Envelope[JobSucceeded]) -> None:
        # The project's name travels on the event: a generated model's name starts with it (without a
        # project, the model is named after the job's project id or "model").
        event = envelope.data
        reg = Registration(
            task_type=event.task_type,
            project_id=event.project_id,
            name_prefix=event.project_name,
            training_job_id=event.job_id,
            dataset_id=event.dataset_id,
            dataset_version_id=event.dataset_version_id,
            engine=event.engine,
            labels=event.labels,
            metrics=event.metrics,
        )
        await RegistryService(session, consumer.runtime, envelope.tenantid).register_from_storage(
            event.package_uri, reg
        )

    for contract in (ServiceDeploying, ServiceRunning, ServiceStopped, ServiceFailed, ServiceDeleted):
        consumer.handler(contract, name=f"usage_{contract.event_type.split('.')[2]}")(_record_usage)


async def _record_usage(session: AsyncSession, envelope: Envelope[ServiceEvent]) -> None:
    event = envelope.data
    versions = [{"model_id": m.model_id, "model_version": m.model_version} for m in event.models]
    await UsageRepository(session, envelope.tenantid).record(
        event.service_id, versions, isinstance(event, _HOLDING), envelope.time
    )
