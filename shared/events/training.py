"""Events of the trainer service."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.events.base import EventContract

__all__ = ["JobCreated", "JobFailed", "JobProgressed", "JobStarted", "JobStopped", "JobSucceeded"]


class _JobEvent(EventContract):
    job_id: str
    project_id: str | None = None
    project_name: str | None = Field(
        default=None, description="The ExeML project's name, when the job has one"
    )
    dataset_id: str | None = None
    dataset_version_id: str | None = None
    task_type: str | None = None


class JobCreated(_JobEvent):
    event_type = "training.job.created.v1"
    flavor: str = "cpu"


class JobStarted(_JobEvent):
    event_type = "training.job.started.v1"
    worker_id: str
    attempt: int = 1


class JobProgressed(_JobEvent):
    event_type = "training.job.progressed.v1"
    progress: float = Field(ge=0, le=100)
    phase: str | None = None
    best_metric: dict[str, Any] | None = None


class JobSucceeded(_JobEvent):
    """A finished job and its model package: what the registry records as a new version."""

    event_type = "training.job.succeeded.v1"
    package_uri: str = Field(description="s3:// prefix of the package (holds manifest.json)")
    engine: str
    labels: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    best_metric: dict[str, Any] | None = Field(
        default=None, description="The job's best validation score, as the job reports it"
    )
    stopped_early: bool = Field(
        default=False, description="Stopped by the user or the budget: best model kept"
    )
    quality: dict[str, Any] | None = Field(
        default=None, description="The quality gate's record (see the job)"
    )


class JobFailed(_JobEvent):
    event_type = "training.job.failed.v1"
    error_code: str
    error_msg: str
    quality: dict[str, Any] | None = Field(
        default=None, description="Set when the quality gate failed the job"
    )


class JobStopped(_JobEvent):
    event_type = "training.job.stopped.v1"
    reason: str = "user"
