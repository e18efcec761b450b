"""Request and response bodies of the labeling API (ModelArts-familiar field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
SHORTCUT_PATTERN = r"^[A-Za-z0-9]$"
MAX_BATCH = 1000

# ModelArts keeps colour and shortcut in a namespaced ``property`` map; we accept it next to plain fields.
COLOR_KEY = "@modelarts:color"
SHORTCUT_KEY = "@modelarts:shortcut"
RENAME_KEY = "@modelarts:rename_to"


class LabelAttribute(BaseModel):
    """A label attribute (ModelArts: text or select, with optional values)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^<>=&\"']+$")
    type: Literal["text", "select"] = "text"
    default_value: str | None = None
    values: list[str] = Field(default_factory=list)


class LabelCreate(BaseModel):
    name: str = Field(description="1–32 letters, digits, '-', '_' (text classification: Chinese too)")
    color: str | None = Field(default=None, pattern=COLOR_PATTERN, description="Hex '#rrggbb'; required for "
                              "object detection and text classification")
    shortcut: str | None = Field(default=None, pattern=SHORTCUT_PATTERN, description="Sound: one key, unique")
    attributes: list[LabelAttribute] = Field(default_factory=list)
    property: dict[str, Any] = Field(default_factory=dict, description="ModelArts '@modelarts:color'/'shortcut'")


class LabelUpdate(BaseModel):
    """Fields to change. ModelArts' body (the bare property map, ``{"@modelarts:color": …}``) works too."""

    name: str | None = Field(default=None, description="New name: every annotation follows")
    color: str | None = Field(default=None, pattern=COLOR_PATTERN)
    shortcut: str | None = Field(default=None, pattern=SHORTCUT_PATTERN)
    attributes: list[LabelAttribute] | None = None
    property: dict[str, Any] = Field(default_factory=dict, description="'@modelarts:rename_to'/'color'/'shortcut'")

    @model_validator(mode="before")
    @classmethod
    def _bare_property_map(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(str(k).startswith("@modelarts:") for k in data):
            bare = {k: v for k, v in data.items() if str(k).startswith("@modelarts:")}
            rest = {k: v for k, v in data.items() if k not in bare}
            return rest | {"property": {**bare, **(rest.get("property") or {})}}
        return data


class LabelRead(BaseModel):
    name: str
    type: int = Field(description="The dataset type code (ModelArts label type)")
    color: str | None
    shortcut: str | None
    attributes: list[dict[str, Any]]
    property: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LabelList(BaseModel):
    items: list[LabelRead]
    total: int


class LabelDeleteResult(BaseModel):
    name: str
    delete_policy: int
    deleted_sample_ids: list[str]
    changed_sample_count: int


class BndBox(BaseModel):
    """A rectangle in pixels, origin top-left."""

    model_config = ConfigDict(allow_inf_nan=False)

    xmin: float
    ymin: float
    xmax: float
    ymax: float


class AnnotationIn(BaseModel):
    name: str
    bndbox: BndBox | None = None
    pose: str = Field(default="Unspecified", max_length=64)
    truncated: int = Field(default=0, ge=0, le=1)
    occluded: int = Field(default=0, ge=0, le=1)
    difficult: int = Field(default=0, ge=0, le=1)


class AnnotationRead(BaseModel):
    name: str
    color: str | None = None
    bndbox: dict[str, float] | None
    pose: str
    truncated: int
    occluded: int
    difficult: int
    annotated_by: str
    created_at: datetime


class SampleAnnotationsUpdate(BaseModel):
    """The sample's complete annotations after the change; an empty list makes it unlabeled."""

    model_config = ConfigDict(populate_by_name=True)

    annotations: list[AnnotationIn] = Field(validation_alias=AliasChoices("annotations", "labels"))


class SampleAnnotations(BaseModel):
    sample_id: str
    sample_name: str
    labels: list[str]
    annotations: list[AnnotationRead]


class BatchSampleUpdate(SampleAnnotationsUpdate):
    sample_id: str


class BatchUpdate(BaseModel):
    """ModelArts' batch update: each listed sample gets exactly these annotations."""

    samples: list[BatchSampleUpdate] = Field(min_length=1, max_length=MAX_BATCH)


class BatchLabel(BaseModel):
    """One label added to (or removed from) many samples."""

    sample_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    name: str


class BatchResult(BaseModel):
    success: bool = True
    changed_sample_count: int
    samples: list[SampleAnnotations]


class LabelStat(BaseModel):
    name: str
    type: int
    color: str | None
    shortcut: str | None
    property: dict[str, Any]
    count: int = Field(description="Label instances (objects/boxes)")
    sample_count: int = Field(description="Samples having the label")


class SampleStats(BaseModel):
    total: int
    labeled: int
    unlabeled: int
    all: int = Field(description="ModelArts name of total")
    manual_annotation: int = Field(description="ModelArts name of labeled")
    un_annotation: int = Field(description="ModelArts name of unlabeled")


class AnnotationStats(BaseModel):
    dataset_id: str
    label_stats: list[LabelStat]
    sample_stats: SampleStats


class SnapshotLabel(BaseModel):
    name: str
    color: str | None
    shortcut: str | None


class SnapshotAnnotation(BaseModel):
    name: str
    bndbox: dict[str, float] | None
    pose: str
    truncated: int
    occluded: int
    difficult: int
    annotated_by: str
    created_at: datetime


class AnnotationSnapshot(BaseModel):
    """Internal: a dataset's labels and the annotations of its labeled samples (for publishing)."""

    dataset_id: str
    labels: list[SnapshotLabel]
    annotations: dict[str, list[SnapshotAnnotation]]
