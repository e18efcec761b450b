"""Request and response bodies of ``/v1/training-jobs``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainer.models import JOB_STATUSES

__all__ = ["TrainingJobCreate", "TrainingJobList", "TrainingJobRead", "TrainingParameters"]

Preference = Literal["performance_first", "balance", "accuracy_first"]
Status = Literal[JOB_STATUSES]  # type: ignore[valid-type]


class TrainingParameters(BaseModel):
    """The seed's training configuration; every rule is checked, the error names the field."""

    model_config = ConfigDict(extra="forbid")

    train_ratio: float = Field(
        default=0.8,
        description="Training share when the version has no train/validation split: 0-1, at most 5 decimals",
    )
    max_training_duration: int = Field(
        default=60, ge=6, le=6000, description="Max training time in minutes (6-6000): data, search, export"
    )
    training_preference: Preference = Field(
        default="balance",
        description="performance_first: short run, small model; balance; accuracy_first: longer run, larger model",
    )
    incremental_training_version: str | None = Field(
        default=None, description="Id of a completed job of the same project and label set to start from"
    )
    inference_hardware: Literal["CPU", "GPU"] = Field(default="CPU", description="Expected inference hardware")
    max_inference_duration_ms: int = Field(
        default=500, ge=1, le=20000, description="The chosen model answers one request within this time"
    )
    problem: Literal["classification", "regression"] | None = Field(
        default=None, description="Tables: override of the automatic choice from the label column"
    )

    @field_validator("train_ratio", mode="before")
    @classmethod
    def _ratio_rule(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("train_ratio must be a number between 0 and 1")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError("train_ratio must be a number between 0 and 1") from exc
        if not number.is_finite() or not Decimal(0) <= number <= Decimal(1):
            raise ValueError("train_ratio must be between 0 and 1")
        if -number.as_tuple().exponent > 5:  # type: ignore[operator]
            raise ValueError("train_ratio has at most 5 decimals")
        return float(number)


class TrainingJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field(default="", max_length=256)
    project_id: str | None = Field(default=None, min_length=1, max_length=64)
    dataset_id: str = Field(min_length=1, max_length=64)
    dataset_version_id: str = Field(min_length=1, max_length=64)
    task_type: str = Field(description="predictive_analytics, image_classification, ...")
    flavor: Literal["cpu", "gpu"] = Field(default="cpu", description="Instance flavor: the job queue it waits in")
    parameters: TrainingParameters = Field(default_factory=TrainingParameters)


class TrainingJobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    project_id: str | None
    dataset_id: str
    dataset_version_id: str
    task_type: str
    flavor: str
    parameters: dict[str, Any]
    budget_seconds: float
    labels: list[str]
    status: Status
    progress: float = Field(description="Percent done, 0-100")
    phase: str | None
    phase_timings: list[dict[str, Any]] = Field(description="[{phase, started_at, seconds}] in order")
    best_metric: dict[str, Any] | None = Field(description="Best validation score of the search so far")
    logs: list[str] = Field(description="The last log lines of the run")
    worker_id: str | None
    lease_expires_at: datetime | None
    attempt: int
    attempts: list[dict[str, Any]] = Field(description="Every run of the job: worker, claimed/ended, outcome")
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = None
    engine: str | None
    candidate: str | None
    metrics: dict[str, Any] | None
    curves: dict[str, Any] | None
    candidates: list[dict[str, Any]] | None
    package_uri: str | None
    stopped_early: bool
    stop_reason: str | None
    error_code: str | None
    error_msg: str | None
    created_at: datetime
    updated_at: datetime


class TrainingJobList(BaseModel):
    items: list[TrainingJobRead]
    total: int
