"""Events of the registry service (AI applications and their versions)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.events.base import EventContract

__all__ = ["ModelVersionDeleted", "ModelVersionRegistered"]


class _VersionEvent(EventContract):
    model_id: str = Field(description="Id of the AI application")
    model_name: str
    model_version: str = Field(description="0.0.1, 0.0.2, …")
    version_id: str


class ModelVersionRegistered(_VersionEvent):
    """A new version is published and deployable."""

    event_type = "registry.model.version.registered.v1"
    project_id: str | None = None
    task_type: str
    package_uri: str = Field(description="s3:// prefix of the registry's copy of the package")
    training_job_id: str | None = None
    dataset_id: str | None = None
    dataset_version_id: str | None = None
    engine: str | None = None
    labels: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    source_type: str = "auto"


class ModelVersionDeleted(_VersionEvent):
    """A version was deleted (alone or with its whole model)."""

    event_type = "registry.model.version.deleted.v1"
