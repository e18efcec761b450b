"""Request and response bodies of the registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelVersionRead(BaseModel):
    """One version of an AI application."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True, protected_namespaces=())

    version_id: str = Field(validation_alias="id")
    model_id: str = Field(validation_alias="application_id")
    model_version: str = Field(validation_alias="version")
    model_status: str = Field(validation_alias="status")
    error_msg: str | None = None
    task_type: str
    package_uri: str | None
    model_size: int = Field(validation_alias="size_bytes")
    engine: str | None
    labels: list[str]
    metrics: dict[str, Any]
    training_job_id: str | None
    dataset_id: str | None
    dataset_version_id: str | None
    source_type: str
    install_type: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


class ModelRead(BaseModel):
    """An AI application ("model") with its latest version."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    model_name: str
    project_id: str | None
    task_type: str
    description: str
    version_count: int
    latest_version: ModelVersionRead | None
    created_at: datetime
    updated_at: datetime


class ModelDetail(ModelRead):
    versions: list[ModelVersionRead]


class ModelList(BaseModel):
    items: list[ModelRead]
    total: int


class ModelVersionList(BaseModel):
    items: list[ModelVersionRead]
    total: int


class DeleteResult(BaseModel):
    """Versions deleted (ModelArts' ``delete_success_list``)."""

    deleted_versions: list[str]
