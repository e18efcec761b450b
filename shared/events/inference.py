"""Events of the inference service (real-time services)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.events.base import EventContract

__all__ = [
    "ServedVersion",
    "ServiceDeleted",
    "ServiceDeploying",
    "ServiceEvent",
    "ServiceFailed",
    "ServiceRunning",
    "ServiceStopped",
]


class ServedVersion(BaseModel):
    model_id: str
    model_version: str
    weight: int


class ServiceEvent(EventContract):
    """What every ``inference.service.*`` event carries (an abstract base: it has no event type)."""

    service_id: str
    service_name: str
    models: list[ServedVersion] = Field(
        default_factory=list,
        description="The model versions the service uses (or will use) and their weights",
    )


class ServiceDeploying(ServiceEvent):
    """Models are being loaded: on create, start or a config update."""

    event_type = "inference.service.deploying.v1"


class ServiceRunning(ServiceEvent):
    event_type = "inference.service.running.v1"


class ServiceStopped(ServiceEvent):
    event_type = "inference.service.stopped.v1"
    reason: str = Field(default="user", description="user | auto_stop")


class ServiceFailed(ServiceEvent):
    event_type = "inference.service.failed.v1"
    error_msg: str


class ServiceDeleted(ServiceEvent):
    event_type = "inference.service.deleted.v1"
