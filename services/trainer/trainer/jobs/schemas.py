"""Request and response bodies of ``/v1/training-jobs``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.flavors import InferenceHardware
from shared.naming import ID_PATTERN, PLAIN_TEXT_PATTERN
from shared.packages import TASK_TYPES
from trainer.models import JOB_STATUSES

__all__ = [
    "ID_PATTERN",
    "QualityRead",
    "TaskType",
    "TrainingJobCreate",
    "TrainingJobList",
    "TrainingJobRead",
    "TrainingParameters",
]

Preference = Literal["performance_first", "balance", "accuracy_first"]
Status = Literal[JOB_STATUSES]  # type: ignore[valid-type]  # a Literal of JobStatus's values, listed once
TaskType = Literal[TASK_TYPES]  # type: ignore[valid-type]  # shared.packages' TASK_TYPES, listed once (the engines train each)
# Ids of jobs, datasets, versions and projects: letters, digits, '_' and '-' (no control characters reach the DB).
# Free text: anything but control characters.

JOB_ID = "5b8e2c1f9a7d4e3b8c6f0a1d2e3f4a5b"
DATASET_ID = "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e"
VERSION_ID = "8d2e4f6a1b3c4d5e9f0a7b6c5d4e3f2a"
PROJECT_ID = "c41d7e9a2b5f4c8d9e0f1a2b3c4d5e6f"


class TrainingParameters(BaseModel):
    """The seed's training configuration; every rule is checked, the error names the field."""

    model_config = ConfigDict(extra="forbid")

    train_ratio: float = Field(
        default=0.8,
        ge=0,
        le=1,
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
        default=None,
        pattern=ID_PATTERN,
        examples=[None],
        description="Id of a completed job of the same project and label set to start from",
    )
    inference_hardware: InferenceHardware = "CPU"
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
            raise ValueError(  # noqa: TRY004  # pydantic turns a ValueError into the 400 naming the field
                "train_ratio must be a number between 0 and 1"
            )
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError("train_ratio must be a number between 0 and 1") from exc
        if not number.is_finite() or not Decimal(0) <= number <= Decimal(1):
            raise ValueError("train_ratio must be between 0 and 1")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > 5:  # an int for every finite number
            raise ValueError("train_ratio has at most 5 decimals")
        return float(number)


class TrainingJobCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "flowers-train-01",
                    "description": "ExeML round 1 of the flowers project",
                    "project_id": PROJECT_ID,
                    "project_name": "flowers",
                    "dataset_id": DATASET_ID,
                    "dataset_version_id": VERSION_ID,
                    "task_type": "image_classification",
                    "flavor": "cpu",
                    "parameters": {
                        "train_ratio": 0.8,
                        "max_training_duration": 60,
                        "training_preference": "balance",
                        "inference_hardware": "CPU",
                        "max_inference_duration_ms": 500,
                    },
                }
            ]
        },
    )

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Default: job-<yyyymmdd-HHMMSS>",
    )
    description: str = Field(default="", max_length=256, pattern=PLAIN_TEXT_PATTERN)
    project_id: str | None = Field(default=None, pattern=ID_PATTERN, description="The ExeML project, if any")
    project_name: str | None = Field(
        default=None,
        max_length=64,
        pattern=PLAIN_TEXT_PATTERN,
        description="The project's name, carried on the job's events (the "
        "registry names the project's AI application after it)",
    )
    dataset_id: str = Field(pattern=ID_PATTERN)
    dataset_version_id: str = Field(pattern=ID_PATTERN, description="A published version of the dataset")
    task_type: TaskType = Field(description="Must match the dataset type (table: predictive_analytics)")
    flavor: Literal["cpu", "gpu"] = Field(
        default="cpu", description="Instance flavor: the job queue it waits in"
    )
    parameters: TrainingParameters = Field(default_factory=TrainingParameters)


_METRICS = {
    "accuracy": 0.9412,
    "precision": 0.9398,
    "recall": 0.9405,
    "f1": 0.9401,
    "per_class": [
        {"label": "daisy", "precision": 0.95, "recall": 0.9268, "f1": 0.9383, "support": 41},
        {"label": "roses", "precision": 0.9302, "recall": 0.9524, "f1": 0.9412, "support": 42},
        {"label": "sunflowers", "precision": 0.9394, "recall": 0.9394, "f1": 0.9394, "support": 33},
    ],
    "confusion_matrix": {
        "labels": ["daisy", "roses", "sunflowers"],
        "matrix": [[38, 2, 1], [1, 40, 1], [1, 1, 31]],
    },
    "eval_count": 116,
}
_QUALITY: dict[str, Any] = {
    "metric": "accuracy",
    "higher_is_better": True,
    "model": 0.9412,
    "trivial": {"name": "majority class", "score": 0.3621},
    "simple": {"name": "colour histogram + logistic regression", "score": 0.7155},
    "eval_count": 116,
    "compared": 6,
    "required": 0.482759,
    "rule": "binomial test, 5 % shared by the 6 validation scores the choice compared: at least 56 of 116 "
    "validation samples",
    "passed": True,
}
_QUALITY_FAILED: dict[str, Any] = {
    "metric": "accuracy",
    "higher_is_better": True,
    "model": 0.3534,
    "trivial": {"name": "majority class", "score": 0.3621},
    "simple": None,
    "eval_count": 116,
    "compared": 1,
    "required": 0.448276,
    "rule": "binomial test, 5 %: at least 52 of 116 validation samples",
    "passed": False,
}
_PLAN = {
    "considered": [
        {"name": "small CNN @64px", "seconds_per_epoch": 4.1, "epochs": 60},
        {"name": "resnet18@224", "skipped": "no pretrained weights on a CPU"},
    ],
    "chosen": "small CNN @64px",
    "why": "fits the budget with 60 epochs; no weights for ImageNet backbones",
}
_JOB_EXAMPLE: dict[str, Any] = {
    "id": JOB_ID,
    "name": "flowers-train-01",
    "description": "ExeML round 1 of the flowers project",
    "project_id": PROJECT_ID,
    "project_name": "flowers",
    "dataset_id": DATASET_ID,
    "dataset_version_id": VERSION_ID,
    "task_type": "image_classification",
    "flavor": "cpu",
    "parameters": {
        "train_ratio": 0.8,
        "max_training_duration": 60,
        "training_preference": "balance",
        "incremental_training_version": None,
        "inference_hardware": "CPU",
        "max_inference_duration_ms": 500,
        "problem": None,
    },
    "budget_seconds": 3600.0,
    "labels": ["daisy", "roses", "sunflowers"],
    "status": "completed",
    "progress": 100.0,
    "phase": "completed",
    "phase_timings": [
        {"phase": "queued", "started_at": "2026-11-23T10:15:00Z", "seconds": 2.1},
        {"phase": "loading data", "started_at": "2026-11-23T10:15:02Z", "seconds": 14.6},
        {"phase": "training", "started_at": "2026-11-23T10:15:17Z", "seconds": 1011.3},
        {"phase": "uploading", "started_at": "2026-11-23T10:32:08Z", "seconds": 6.0},
        {"phase": "completed", "started_at": "2026-11-23T10:32:14Z", "seconds": None},
    ],
    "best_metric": {"accuracy": 0.9412},
    "logs": [
        "candidate mobilenetv3_large_100: epoch 12 val_accuracy 0.9412",
        "packaging mobilenetv3_large_100 (ONNX)",
        "evaluation on 116 validation images: accuracy 0.9412",
    ],
    "worker_id": "trainer-host-1:4711",
    "lease_expires_at": None,
    "attempt": 1,
    "attempts": [
        {
            "attempt": 1,
            "worker_id": "trainer-host-1:4711",
            "claimed_at": "2026-11-23T10:15:02Z",
            "ended_at": "2026-11-23T10:32:14Z",
            "outcome": "completed",
        }
    ],
    "started_at": "2026-11-23T10:15:02Z",
    "finished_at": "2026-11-23T10:32:14Z",
    "duration_seconds": 1032.0,
    "engine": "image_classification",
    "candidate": "mobilenetv3_large_100",
    "metrics": _METRICS,
    "curves": {"val_accuracy": [{"candidate": "mobilenetv3_large_100", "epoch": 12, "value": 0.9412}]},
    "candidates": [
        {
            "name": "mobilenetv3_large_100",
            "latency_ms": 18.4,
            "status": "trained",
            "score": 0.9412,
            "best_epoch": 12,
            "epochs": 14,
            "seconds": 1003.2,
        }
    ],
    "package_uri": f"s3://exeml/training/default/{JOB_ID}/package",
    "quality": _QUALITY,
    "plan": _PLAN,
    "stopped_early": False,
    "stop_reason": None,
    "error_code": None,
    "error_msg": None,
    "created_at": "2026-11-23T10:15:00Z",
    "updated_at": "2026-11-23T10:32:14Z",
}


_FAILED_EXAMPLE: dict[str, Any] = {
    **_JOB_EXAMPLE,
    "status": "failed",
    "progress": 97.0,
    "engine": None,
    "candidate": None,
    "metrics": None,
    "package_uri": None,
    "quality": _QUALITY_FAILED,
    "error_code": "ModelArts.2794",
    "error_msg": "the model (accuracy 0.3534) does not beat the trivial baseline (majority class: 0.3621) by more "
    "than noise on 116 validation samples (needed at least 0.4483); it is not delivered. what helps: "
    "more labeled data per class (and classes that differ in what the model can see), a longer "
    "training budget, or pretrained weights for the model family",
}


class BaselineRead(BaseModel):
    name: str = Field(description="majority class, mean, mean box, or the simple candidate's name")
    score: float | None = Field(description="Its score on the validation split, same metric as the model")


class QualityRead(BaseModel):
    """The quality gate: the model against a trivial baseline and the best simple candidate, on the same
    validation split. A model that does not beat the trivial baseline by more than noise fails the job."""

    model_config = ConfigDict(json_schema_extra={"examples": [_QUALITY, _QUALITY_FAILED]})

    metric: str = Field(description="The metric compared (a key of metrics): accuracy, map_50, rmse...")
    higher_is_better: bool
    model: float | None = Field(description="The delivered model's score")
    trivial: BaselineRead = Field(description="Majority class / mean / mean box")
    simple: BaselineRead | None = Field(description="The best simple candidate the engine tried, if any")
    eval_count: int = Field(description="Validation samples the scores are computed on")
    compared: int = Field(
        1,
        description="How many validation scores the model was chosen as the best of (epochs, ensembles...): "
        "the 5 % of the test is shared among them",
    )
    required: float | None = Field(description="The score the model had to reach (at most, for errors)")
    rule: str = Field(description="How `required` follows from the baseline and the validation size")
    passed: bool


class TrainingJobRead(BaseModel):
    """A training job: its configuration, progress and, once finished, metrics and model package."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_JOB_EXAMPLE, _FAILED_EXAMPLE]}
    )

    id: str
    name: str
    description: str
    project_id: str | None
    project_name: str | None = None
    dataset_id: str
    dataset_version_id: str
    task_type: TaskType
    flavor: Literal["cpu", "gpu"]
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
    quality: QualityRead | None = Field(
        default=None, description="The quality gate's record; null when the engine reported none (not gated)"
    )
    plan: dict[str, Any] | None = Field(default=None, description="What the engine considered and why")
    stopped_early: bool
    stop_reason: str | None
    error_code: str | None
    error_msg: str | None
    created_at: datetime
    updated_at: datetime


class TrainingJobList(BaseModel):
    items: list[TrainingJobRead]
    total: int = Field(description="Jobs matching the filters", examples=[1])
