"""Events of the dataset service (routing key = ``event_type``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.events.base import EventContract

__all__ = [
    "AddedSample",
    "CheckViolation",
    "DatasetCreated",
    "DatasetDeleted",
    "ImportCompleted",
    "ImportedAnnotation",
    "SamplesAdded",
    "SamplesDeleted",
    "VersionChecked",
    "VersionFailed",
    "VersionPublished",
]

# ModelArts dataset type codes and our readable names.
DATASET_TYPES: dict[int, str] = {
    0: "image_classification",
    1: "object_detection",
    100: "text_classification",
    200: "sound_classification",
    400: "table",
}


class ImportedAnnotation(BaseModel):
    """A label found in the data at import (``.txt`` / VOC / ``_result.txt`` / folder name / manifest).

    For detection ``bndbox`` holds the VOC rectangle in pixels (``xmin``, ``ymin``, ``xmax``, ``ymax``) and
    ``pose``/``truncated``/``occluded``/``difficult`` the other VOC fields.
    """

    name: str
    bndbox: dict[str, float] | None = None
    pose: str = "Unspecified"
    truncated: int = 0
    occluded: int = 0
    difficult: int = 0
    annotated_by: str = "human"


class AddedSample(BaseModel):
    sample_id: str
    name: str = Field(description="File name (text objects: '<file>#<line>')")
    source: str = Field(description="s3:// URI of the object, or content://<text> for a text object")
    sample_type: int = Field(description="0 image, 1 text, 2 audio, 4 table")
    width: int | None = Field(default=None, description="Images: pixels")
    height: int | None = None
    annotations: list[ImportedAnnotation] = Field(default_factory=list)


class DatasetCreated(EventContract):
    event_type = "dataset.created.v1"
    dataset_id: str
    name: str
    dataset_type: int
    dataset_type_name: str
    label_column: str | None = None


class DatasetDeleted(EventContract):
    event_type = "dataset.deleted.v1"
    dataset_id: str


class SamplesAdded(EventContract):
    """New samples (by import, upload or synchronisation), with the labels found in the data.

    Large imports are split into several events of at most 500 samples each.
    """

    event_type = "dataset.samples.added.v1"
    dataset_id: str
    dataset_type: int
    import_id: str | None = None
    samples: list[AddedSample]


class SamplesDeleted(EventContract):
    event_type = "dataset.samples.deleted.v1"
    dataset_id: str
    sample_ids: list[str]


class ImportCompleted(EventContract):
    event_type = "dataset.import.completed.v1"
    dataset_id: str
    import_id: str
    status: Literal["completed", "failed"]
    added: int
    failed: int
    error_msg: str | None = None


class VersionPublished(EventContract):
    """A frozen dataset version: everything a trainer needs to read it."""

    event_type = "dataset.version.published.v1"
    dataset_id: str
    version_id: str
    version_name: str
    dataset_type: int
    dataset_type_name: str
    manifest_uri: str
    train_ratio: float
    sample_count: int
    train_count: int
    eval_count: int
    labels: list[str] = Field(default_factory=list)
    statistics: dict[str, Any] = Field(default_factory=dict)
    label_column: str | None = None
    table_schema: list[dict[str, Any]] | None = Field(
        default=None, description="Tables: [{'name', 'type': 'int'|'float'|'string'|'bool'}] in column order"
    )


class VersionFailed(EventContract):
    """A version could not be published (storage unreachable, the dataset changed under it...): it stays
    listed with status FAILED and its message; the dataset and its samples are untouched."""

    event_type = "dataset.version.failed.v1"
    dataset_id: str
    version_id: str
    version_name: str
    error_msg: str


class CheckViolation(BaseModel):
    rule: str
    level: Literal["error", "warning"]
    msg: str
    count: int | None = None
    label: str | None = None
    column: str | None = None


class VersionChecked(EventContract):
    event_type = "dataset.version.checked.v1"
    dataset_id: str
    version_id: str
    passed: bool
    violations: list[CheckViolation] = Field(default_factory=list)
