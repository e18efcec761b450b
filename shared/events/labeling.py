"""Events of the labeling service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.events.base import EventContract

__all__ = ["AnnotationChange", "AnnotationsChanged", "LabelDeleted", "LabelRenamed"]


class AnnotationChange(BaseModel):
    sample_id: str
    labels: list[str] = Field(description="The sample's label names after the change (empty = unlabeled)")


class AnnotationsChanged(EventContract):
    """Samples whose annotations changed; the dataset service keeps labeled/unlabeled state from it."""

    event_type = "labeling.annotations.changed.v1"
    dataset_id: str
    changes: list[AnnotationChange]


class LabelRenamed(EventContract):
    event_type = "labeling.label.renamed.v1"
    dataset_id: str
    old_name: str
    new_name: str


class LabelDeleted(EventContract):
    event_type = "labeling.label.deleted.v1"
    dataset_id: str
    name: str
    policy: Literal["label_only", "label_and_samples", "label_samples_and_files"]
    deleted_sample_ids: list[str] = Field(default_factory=list)
