"""Request and response bodies of the labeling API (ModelArts-familiar field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from shared.naming import ID_PATTERN, PLAIN_TEXT_PATTERN

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
SHORTCUT_PATTERN = r"^[A-Za-z0-9]$"
MAX_BATCH = 1000
# Resource ids: letters, digits, '-', '_' (the platform's are 32 hex characters).
# A label name in a path: the characters a label name may have (naming rules: shared.naming).
LABEL_NAME_PATTERN = r"^[A-Za-z0-9_\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{1,32}$"
# Free text stored as is: no control characters (the naming rules are checked by the service).
SampleIdStr = Annotated[str, Field(pattern=ID_PATTERN, examples=["c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f"])]

_TIME = "2026-11-23T10:15:00Z"
_DATASET_ID = "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e"
_SAMPLE_ID = "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f"
_SAMPLE_ID_2 = "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d"
_LABEL_EXAMPLE: dict[str, Any] = {
    "name": "car",
    "type": 1,
    "color": "#3399ff",
    "shortcut": None,
    "attributes": [],
    "property": {"@modelarts:color": "#3399ff"},
    "created_at": _TIME,
    "updated_at": _TIME,
}
_ANNOTATIONS_EXAMPLE: dict[str, Any] = {
    "sample_id": _SAMPLE_ID,
    "sample_name": "street_0001.jpg",
    "labels": ["car"],
    "annotations": [
        {
            "name": "car",
            "color": "#3399ff",
            "bndbox": {"xmin": 34.0, "ymin": 120.0, "xmax": 310.0, "ymax": 284.0},
            "pose": "Unspecified",
            "truncated": 0,
            "occluded": 0,
            "difficult": 0,
            "annotated_by": "human",
            "created_at": _TIME,
        }
    ],
}

# ModelArts keeps colour and shortcut in a namespaced ``property`` map; we accept it next to plain fields.
COLOR_KEY = "@modelarts:color"
SHORTCUT_KEY = "@modelarts:shortcut"
RENAME_KEY = "@modelarts:rename_to"


class LabelAttribute(BaseModel):
    """A label attribute (ModelArts: text or select, with optional values)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f<>=&\"']+$", examples=["colour"])
    type: Literal["text", "select"] = "text"
    default_value: str | None = None
    values: list[str] = Field(default_factory=list)


class LabelCreate(BaseModel):
    """A new label of the dataset's label set."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "car", "color": "#3399ff"}]})

    name: str = Field(
        pattern=PLAIN_TEXT_PATTERN,
        description="1–32 letters, digits, '-', '_' (text classification: Chinese too)",
    )
    color: str | None = Field(
        default=None,
        pattern=COLOR_PATTERN,
        description="Hex '#rrggbb'; required for object detection and text classification",
    )
    shortcut: str | None = Field(default=None, pattern=SHORTCUT_PATTERN, description="Sound: one key, unique")
    attributes: list[LabelAttribute] = Field(default_factory=list)
    property: dict[str, Any] = Field(
        default_factory=dict, description="ModelArts '@modelarts:color'/'shortcut'"
    )


class LabelUpdate(BaseModel):
    """Fields to change. ModelArts' body (the bare property map, ``{"@modelarts:color": …}``) works too."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "vehicle", "color": "#ff6600"}]})

    name: str | None = Field(
        default=None, pattern=PLAIN_TEXT_PATTERN, description="New name: every annotation follows"
    )
    color: str | None = Field(default=None, pattern=COLOR_PATTERN)
    shortcut: str | None = Field(default=None, pattern=SHORTCUT_PATTERN)
    attributes: list[LabelAttribute] | None = None
    property: dict[str, Any] = Field(
        default_factory=dict, description="'@modelarts:rename_to'/'color'/'shortcut'"
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_property_map(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(str(k).startswith("@modelarts:") for k in data):
            bare = {k: v for k, v in data.items() if str(k).startswith("@modelarts:")}
            rest = {k: v for k, v in data.items() if k not in bare}
            return rest | {"property": {**bare, **(rest.get("property") or {})}}
        return data


class LabelRead(BaseModel):
    """A label: name, colour, shortcut (sound), attributes; ``property`` as ModelArts returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LABEL_EXAMPLE]})

    name: str
    type: int = Field(description="The dataset type code (ModelArts label type)")
    color: str | None = None
    shortcut: str | None = None
    attributes: list[dict[str, Any]]
    property: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LabelList(BaseModel):
    items: list[LabelRead]
    total: int = Field(examples=[1])


class LabelDeleteResult(BaseModel):
    """What deleting the label did: the samples deleted (policies 1, 2) and those that lost the label."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "car",
                    "delete_policy": 1,
                    "deleted_sample_ids": [_SAMPLE_ID_2],
                    "changed_sample_count": 3,
                }
            ]
        }
    )

    name: str
    delete_policy: int
    deleted_sample_ids: list[str]
    changed_sample_count: int


class BndBox(BaseModel):
    """A rectangle in pixels, origin top-left."""

    model_config = ConfigDict(allow_inf_nan=False)

    xmin: float = Field(examples=[34.0])
    ymin: float = Field(examples=[120.0])
    xmax: float = Field(examples=[310.0])
    ymax: float = Field(examples=[284.0])


class AnnotationIn(BaseModel):
    """A label on the sample; object detection: with its rectangle."""

    name: str = Field(pattern=PLAIN_TEXT_PATTERN, description="The label's name", examples=["car"])
    bndbox: BndBox | None = Field(
        default=None, description="Object detection: the rectangle (required there)"
    )
    pose: str = Field(default="Unspecified", max_length=64, pattern=PLAIN_TEXT_PATTERN)
    truncated: int = Field(default=0, ge=0, le=1)
    occluded: int = Field(default=0, ge=0, le=1)
    difficult: int = Field(default=0, ge=0, le=1)


class AnnotationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ANNOTATIONS_EXAMPLE["annotations"][0]]})

    name: str
    color: str | None = None
    bndbox: dict[str, float] | None = None
    pose: str
    truncated: int
    occluded: int
    difficult: int
    annotated_by: str
    created_at: datetime


class SampleAnnotationsUpdate(BaseModel):
    """The sample's complete annotations after the change; an empty list makes it unlabeled."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "annotations": [
                        {"name": "car", "bndbox": {"xmin": 34, "ymin": 120, "xmax": 310, "ymax": 284}},
                        {"name": "bus", "bndbox": {"xmin": 330, "ymin": 90, "xmax": 620, "ymax": 300}},
                    ]
                }
            ]
        },
    )

    annotations: list[AnnotationIn] = Field(validation_alias=AliasChoices("annotations", "labels"))


class SampleAnnotations(BaseModel):
    """A sample's labels and annotations."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ANNOTATIONS_EXAMPLE]})

    sample_id: str
    sample_name: str
    labels: list[str]
    annotations: list[AnnotationRead]


class BatchSampleUpdate(SampleAnnotationsUpdate):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "sample_id": _SAMPLE_ID,
                    "annotations": [
                        {"name": "car", "bndbox": {"xmin": 34, "ymin": 120, "xmax": 310, "ymax": 284}}
                    ],
                }
            ]
        },
    )

    sample_id: str = Field(pattern=ID_PATTERN)


class BatchUpdate(BaseModel):
    """ModelArts' batch update: each listed sample gets exactly these annotations."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "samples": [
                        {
                            "sample_id": _SAMPLE_ID,
                            "annotations": [
                                {"name": "car", "bndbox": {"xmin": 34, "ymin": 120, "xmax": 310, "ymax": 284}}
                            ],
                        },
                        {"sample_id": _SAMPLE_ID_2, "annotations": []},
                    ]
                }
            ]
        }
    )

    samples: list[BatchSampleUpdate] = Field(min_length=1, max_length=MAX_BATCH)


class BatchLabel(BaseModel):
    """One label added to (or removed from) many samples."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sample_ids": [_SAMPLE_ID, _SAMPLE_ID_2], "name": "daisy"}]}
    )

    sample_ids: list[SampleIdStr] = Field(min_length=1, max_length=MAX_BATCH)
    name: str = Field(pattern=PLAIN_TEXT_PATTERN, description="The label's name")


class BatchResult(BaseModel):
    """The samples after the change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"success": True, "changed_sample_count": 1, "samples": [_ANNOTATIONS_EXAMPLE]}]
        }
    )

    success: bool = True
    changed_sample_count: int
    samples: list[SampleAnnotations]


class LabelStat(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "car",
                    "type": 1,
                    "color": "#3399ff",
                    "shortcut": None,
                    "property": {"@modelarts:color": "#3399ff"},
                    "count": 57,
                    "sample_count": 31,
                }
            ]
        }
    )

    name: str
    type: int
    color: str | None = None
    shortcut: str | None = None
    property: dict[str, Any]
    count: int = Field(description="Label instances (objects/boxes)")
    sample_count: int = Field(description="Samples having the label")


class SampleStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 40,
                    "labeled": 31,
                    "unlabeled": 9,
                    "all": 40,
                    "manual_annotation": 31,
                    "un_annotation": 9,
                }
            ]
        }
    )

    total: int
    labeled: int
    unlabeled: int
    all: int = Field(description="ModelArts name of total")
    manual_annotation: int = Field(description="ModelArts name of labeled")
    un_annotation: int = Field(description="ModelArts name of unlabeled")


class AnnotationStats(BaseModel):
    """The "All Labels" panel: per label objects and samples, and labeled/unlabeled counts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": _DATASET_ID,
                    "label_stats": [
                        {
                            "name": "car",
                            "type": 1,
                            "color": "#3399ff",
                            "shortcut": None,
                            "property": {"@modelarts:color": "#3399ff"},
                            "count": 57,
                            "sample_count": 31,
                        }
                    ],
                    "sample_stats": {
                        "total": 40,
                        "labeled": 31,
                        "unlabeled": 9,
                        "all": 40,
                        "manual_annotation": 31,
                        "un_annotation": 9,
                    },
                }
            ]
        }
    )

    dataset_id: str
    label_stats: list[LabelStat]
    sample_stats: SampleStats


class SnapshotLabel(BaseModel):
    name: str
    color: str | None = None
    shortcut: str | None = None


class SnapshotAnnotation(BaseModel):
    name: str
    bndbox: dict[str, float] | None = None
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
