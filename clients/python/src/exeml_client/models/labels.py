"""Labels of a dataset and their statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from exeml_client.models._base import APIModel


class Label(APIModel):
    __schema__ = "labeling_LabelRead"
    name: str
    type: int
    color: str | None = None
    shortcut: str | None = None
    attributes: list[dict[str, Any]]
    property: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LabelAttribute(APIModel):
    __schema__ = "labeling_LabelAttribute"
    name: str
    type: Literal["text", "select"] = "text"
    default_value: str | None = None
    values: list[str] = Field(default_factory=list)


class LabelCreate(APIModel):
    __schema__ = "labeling_LabelCreate"
    name: str
    color: str | None = None
    shortcut: str | None = None
    attributes: list[LabelAttribute] = Field(default_factory=list)
    property: dict[str, Any] = Field(default_factory=dict)


class LabelDeleteResult(APIModel):
    __schema__ = "labeling_LabelDeleteResult"
    name: str
    delete_policy: int
    deleted_sample_ids: list[str]
    changed_sample_count: int


class LabelStat(APIModel):
    __schema__ = "labeling_LabelStat"
    name: str
    type: int
    color: str | None = None
    shortcut: str | None = None
    property: dict[str, Any]
    count: int
    sample_count: int


class SampleStats(APIModel):
    __schema__ = "labeling_SampleStats"
    total: int
    labeled: int
    unlabeled: int
    all: int
    manual_annotation: int
    un_annotation: int


class AnnotationStats(APIModel):
    __schema__ = "labeling_AnnotationStats"
    dataset_id: str
    label_stats: list[LabelStat]
    sample_stats: SampleStats


class BatchLabel(APIModel):
    __schema__ = "labeling_BatchLabel"
    sample_ids: list[str]
    name: str
