"""Request and response shapes of the projects API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ProjectType = Literal[
    "image_classification", "object_detection", "predictive_analytics", "sound_classification", "text_classification"
]
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class TrainingParams(BaseModel):
    """The trainer's parameters with the seed's defaults (validated again by the trainer)."""

    model_config = ConfigDict(extra="allow")

    train_ratio: float = Field(default=0.8, gt=0, le=1, description="Training/validation split, 1–5 decimals")
    max_training_duration: int = Field(default=60, ge=6, le=6000, description="Minutes")
    training_preference: Literal["performance_first", "balance", "accuracy_first"] = "balance"
    inference_hardware: Literal["CPU", "GPU"] = "CPU"
    max_inference_duration_ms: int | None = Field(default=None, ge=1, le=20000)
    incremental_training_version: str | None = None


class ProjectCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, examples=["flowers"],
                      description="1–64 letters, digits, '_' or '-', starting with a letter; unique per tenant")
    project_type: ProjectType
    description: str = Field(default="", max_length=500)
    dataset_id: str | None = Field(default=None, description="An existing dataset of the same type")
    input_path: str | None = Field(default=None, description="s3://… folder to create the dataset from",
                                   examples=["s3://exeml/flowers/input/"])
    output_path: str | None = Field(default=None, examples=["s3://exeml/flowers/output/"])
    flavor: Literal["cpu", "gpu"] = "cpu"
    training_params: TrainingParams = Field(default_factory=TrainingParams)
    label_column: str | None = Field(default=None, description="Predictive analytics: the column to predict")
    label_type: Literal["discrete", "continuous"] | None = Field(
        default=None, description="Predictive analytics: discrete → classification, continuous → regression")
    with_column_header: bool = Field(default=True, description="Predictive analytics: CSV files have a header")
    tags: list[str] = Field(default_factory=list, max_length=20)


class ProjectUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=500)
    tags: list[str] | None = Field(default=None, max_length=20)


class PhaseRead(BaseModel):
    name: str
    title: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    progress: float | None
    instance: dict[str, Any] | None
    outputs: dict[str, Any]
    error_msg: str | None


class ExecutionRead(BaseModel):
    id: str
    round: int
    status: str
    created_at: datetime
    ended_at: datetime | None
    phases: list[PhaseRead]


class ProjectRead(BaseModel):
    id: str
    name: str
    project_type: ProjectType
    description: str
    dataset_id: str
    output_path: str | None
    flavor: str
    training_params: dict[str, Any]
    label_column: str | None
    label_type: str | None
    tags: list[str]
    status: str
    current_phase: str | None
    rounds: int
    model_id: str | None
    service_id: str | None
    created_at: datetime
    updated_at: datetime
    execution: ExecutionRead | None = None


class ProjectList(BaseModel):
    items: list[ProjectRead]
    total: int


class DeployRequest(BaseModel):
    """Deploy parameters; without `config` this round's model version gets 100 % of the traffic."""

    model_config = ConfigDict(extra="forbid")

    config: list[dict[str, Any]] | None = Field(default=None, description="As the inference service's `config`")
    specification: str = "cpu"
    instance_count: int = Field(default=1, ge=1, le=5)
    schedule: dict[str, Any] | None = Field(default=None, description="Auto stop, as the inference service's")
    service_name: str | None = None


class RoundCreate(BaseModel):
    training_params: dict[str, Any] = Field(default_factory=dict, description="Overrides for this round")
