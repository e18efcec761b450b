"""Handlers of other services' events that the registry service reacts to."""

from __future__ import annotations

from typing import Any

from registry.repository import UsageRepository
from registry.service import Registration, RegistryService
from shared.errors import ExeMLError
from shared.events.inference import (
    ServiceDeleted,
    ServiceDeploying,
    ServiceFailed,
    ServiceRunning,
    ServiceStopped,
)
from shared.events.training import JobSucceeded
from shared.messaging import EventConsumer
from shared.messaging.envelope import Envelope

# A service in these states holds its versions: they cannot be deleted.
_HOLDING = {ServiceDeploying.event_type, ServiceRunning.event_type}


def register_consumers(consumer: EventConsumer) -> None:
    """Attach this service's event handlers to ``consumer``."""
    @consumer.handler(JobSucceeded, name="register_trained_model")
    async def register_trained_model(session, envelope: Envelope[dict[str, Any]]) -> None:
        event = JobSucceeded.model_validate(envelope.data)
        runtime = consumer.runtime
        tenant_id = envelope.tenantid or ""
        reg = Registration(
            task_type=event.task_type, project_id=event.project_id,
            name_prefix=getattr(event, "project_name", None) or await _project_name(runtime, tenant_id, event),
            training_job_id=event.job_id,
            dataset_id=event.dataset_id, dataset_version_id=event.dataset_version_id, engine=event.engine,
            labels=event.labels, metrics=event.metrics,
        )
        await RegistryService(runtime, session, tenant_id).register_from_storage(event.package_uri, reg)

    for contract in (ServiceDeploying, ServiceRunning, ServiceStopped, ServiceFailed, ServiceDeleted):
        consumer.handler(contract, name=f"usage_{contract.event_type.split('.')[2]}")(_record_usage)


async def _project_name(runtime, tenant_id: str, event: JobSucceeded) -> str | None:
    """The ExeML project's name (a generated model's name starts with it), asked of the workflow service;
    without it (no workflow service, unknown project) the model is named after the project id."""
    if not event.project_id:
        return None
    try:
        project = await runtime.peers.get_json("workflow", f"/v1/projects/{event.project_id}", tenant_id=tenant_id)
    except ExeMLError:
        return None
    return project.get("name") if isinstance(project, dict) else None


async def _record_usage(session, envelope: Envelope[dict[str, Any]]) -> None:
    data = envelope.data
    versions = [{"model_id": m["model_id"], "model_version": m["model_version"]} for m in data.get("models", [])]
    await UsageRepository(session, envelope.tenantid or "").record(
        data["service_id"], versions, envelope.type in _HOLDING, envelope.time
    )
