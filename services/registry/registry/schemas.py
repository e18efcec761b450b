"""Request and response bodies of the registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "6a1f0c9e2d8b4f7a9c3e5d1b0a2f4e6c"
VERSION_ID = "e7c3a9f15b2d4c6e8a0f1b3d5c7e9a2f"
_VERSION_EXAMPLE: dict[str, Any] = {
    "version_id": VERSION_ID,
    "model_id": MODEL_ID,
    "model_version": "0.0.1",
    "model_status": "published",
    "task_type": "image_classification",
    "package_uri": f"s3://exeml/models/default/{MODEL_ID}/{VERSION_ID}",
    "model_size": 17694720,
    "engine": "image_classification",
    "labels": ["daisy", "roses", "sunflowers"],
    "metrics": {"accuracy": 0.9412, "precision": 0.9398, "recall": 0.9405, "f1": 0.9401, "eval_count": 116},
    "training_job_id": "5b8e2c1f9a7d4e3b8c6f0a1d2e3f4a5b",
    "dataset_id": "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e",
    "dataset_version_id": "8d2e4f6a1b3c4d5e9f0a7b6c5d4e3f2a",
    "source_type": "auto",
    "install_type": ["real-time"],
    "description": "",
    "created_at": "2026-11-23T10:32:20Z",
    "updated_at": "2026-11-23T10:32:21Z",
}
_MODEL_EXAMPLE: dict[str, Any] = {
    "model_id": MODEL_ID,
    "model_name": "flowers",
    "project_id": "c41d7e9a2b5f4c8d9e0f1a2b3c4d5e6f",
    "task_type": "image_classification",
    "description": "",
    "version_count": 1,
    "latest_version": _VERSION_EXAMPLE,
    "created_at": "2026-11-23T10:32:20Z",
    "updated_at": "2026-11-23T10:32:20Z",
}


class ModelVersionRead(BaseModel):
    """One version of an AI application (``model_status``: publishing, published or failed)."""

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        protected_namespaces=(),
        json_schema_extra={"examples": [_VERSION_EXAMPLE]},
    )

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

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_MODEL_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_MODEL_EXAMPLE, "versions": [_VERSION_EXAMPLE]}]}
    )

    versions: list[ModelVersionRead] = Field(description="Every version, newest first")


class ModelList(BaseModel):
    items: list[ModelRead]
    total: int = Field(description="AI applications matching the filters", examples=[1])


class ModelVersionList(BaseModel):
    items: list[ModelVersionRead]
    total: int = Field(description="Versions of the AI application", examples=[1])


class DeleteResult(BaseModel):
    """Versions deleted (ModelArts' ``delete_success_list``)."""

    deleted_versions: list[str] = Field(description="The deleted versions (0.0.1, …)", examples=[["0.0.1"]])
