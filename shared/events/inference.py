"""Events of the inference service (real-time services)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.events.base import EventContract

__all__ = [
    "BatchServiceCreated",
    "BatchServiceEvent",
    "BatchServiceFailed",
    "BatchServiceFinished",
    "BatchServiceProgressed",
    "BatchServiceStarted",
    "BatchServiceStopped",
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


class BatchServiceEvent(EventContract):
    """What every ``inference.batch_service.*`` event carries (an abstract base: it has no event type)."""

    service_id: str
    service_name: str
    model_id: str
    model_version: str
    task_type: str
    total_inputs: int = Field(default=0, description="Inputs found in the source folder (0 until listed)")
    done_inputs: int = Field(default=0, description="Inputs answered so far (answers and error lines)")
    failed_inputs: int = Field(default=0, description="Of those, inputs answered with an error line")


class BatchServiceCreated(BatchServiceEvent):
    """A batch service was created; a worker will list its inputs and start."""

    event_type = "inference.batch_service.created.v1"


class BatchServiceStarted(BatchServiceEvent):
    """A worker listed the inputs (``total_inputs``) and loaded the model: answers are being written."""

    event_type = "inference.batch_service.started.v1"


class BatchServiceProgressed(BatchServiceEvent):
    """Another tenth of the inputs is answered (at most ten of these per batch service)."""

    event_type = "inference.batch_service.progressed.v1"
    progress: int = Field(ge=0, le=100, description="Percent of the inputs answered")


class BatchServiceFinished(BatchServiceEvent):
    """Every input is answered; the result files are written."""

    event_type = "inference.batch_service.finished.v1"
    results: list[str] = Field(description="s3:// addresses of the result files (JSON Lines, CSV for tables)")


class BatchServiceStopped(BatchServiceEvent):
    """Stopped by the user; the answers written so far are in the result files."""

    event_type = "inference.batch_service.stopped.v1"
    results: list[str] = Field(default_factory=list, description="s3:// addresses of the result files")


class BatchServiceFailed(BatchServiceEvent):
    event_type = "inference.batch_service.failed.v1"
    error_msg: str
