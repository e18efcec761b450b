"""Bodies of the pre-label API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labeling.schemas import AnnotationIn, BndBox, SampleIdStr
from shared.naming import ID_PATTERN

TaskStatus = Literal["pending", "running", "completed", "failed"]
_TIME = "2026-11-23T10:15:00Z"
_TASK_EXAMPLE: dict[str, Any] = {
    "task_id": "9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d",
    "dataset_id": "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e",
    "service_id": "5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b",
    "status": "running",
    "total_sample_count": 120,
    "processed_sample_count": 40,
    "failed_sample_count": 0,
    "error_msg": None,
    "create_time": _TIME,
    "started_at": _TIME,
    "finished_at": None,
}
_SUGGESTION_EXAMPLE: dict[str, Any] = {
    "sample_id": "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f",
    "sample_name": "daisy_01.jpg",
    "task_id": "9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d",
    "predictions": [{"name": "daisy", "score": 0.62, "bndbox": None}],
    "uncertainty": 0.55,
    "create_time": _TIME,
}


class PrelabelTaskCreate(BaseModel):
    """Ask a running real-time service of the same type for suggestions on the dataset's unlabeled samples."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"service_id": "5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b"}]}
    )

    service_id: str = Field(
        pattern=ID_PATTERN, description="A running service whose model has the dataset's type"
    )
    sample_ids: list[SampleIdStr] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="The samples to pre-label (default: the unlabeled samples, oldest first, up to max_samples)",
    )
    max_samples: int = Field(default=1000, ge=1, le=10000, description="At most this many unlabeled samples")


class PrelabelTaskRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TASK_EXAMPLE]})

    task_id: str
    dataset_id: str
    service_id: str
    status: TaskStatus
    total_sample_count: int
    processed_sample_count: int = Field(description="Samples that got a suggestion")
    failed_sample_count: int = Field(description="Samples the service refused (e.g. a corrupt file)")
    error_msg: str | None = None
    create_time: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class PrelabelTaskList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_TASK_EXAMPLE], "total": 1}]})

    items: list[PrelabelTaskRead]
    total: int


class Prediction(BaseModel):
    """One suggested label (object detection: with its rectangle) and the model's score for it."""

    name: str
    score: float = Field(ge=0, le=1)
    bndbox: BndBox | None = None


class SuggestionRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUGGESTION_EXAMPLE]})

    sample_id: str
    sample_name: str
    task_id: str
    predictions: list[Prediction] = Field(description="What accepting as is would label the sample with")
    uncertainty: float = Field(
        ge=0,
        le=1,
        description="1 − margin between the two best scores (detection: "
        "1 − mean box score): label the highest first",
    )
    create_time: datetime


class SuggestionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_SUGGESTION_EXAMPLE], "total": 1}]})

    items: list[SuggestionRead]
    total: int


class SuggestionAccept(BaseModel):
    """Accept the suggestion as is (no body or ``annotations`` null) or corrected (the sample's annotations)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"annotations": [{"name": "tulip"}]}]})

    annotations: list[AnnotationIn] | None = Field(default=None, description="The corrected annotations")
