"""Request and response shapes of the projects API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.flavors import InferenceHardware
from shared.naming import PLAIN_TEXT_PATTERN, VERSION_NAME_PATTERN
from workflow.aliases import RatioText, one_ratio_name, ratio_field, schedule_list

ProjectType = Literal[
    "image_classification",
    "object_detection",
    "predictive_analytics",
    "sound_classification",
    "text_classification",
]
ProjectStatus = Literal["init", "running", "completed", "stopped", "abnormal"]
ExecutionStatus = Literal["init", "running", "completed", "stopped", "abnormal"]
PhaseName = Literal[
    "label_data", "publish_dataset", "check_data", "train", "register_model", "deploy_service"
]
PhaseStatus = Literal[
    "init", "awaiting_operation", "awaiting_input", "running", "executed", "failed", "stopped"
]
InstanceType = Literal["dataset_version", "dataset_check", "training_job", "model_version", "service"]
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
# A model version as the registry numbers them: Digit.Digit.Digit, each 1–2 digits (0.0.1, 0.0.2, …).
MODEL_VERSION_PATTERN = r"^(0|[1-9]\d?)\.(0|[1-9]\d?)\.(0|[1-9]\d?)$"
# Resource ids are 32 lowercase hex digits (shared.context.new_id).
ID_PATTERN = r"^[0-9a-f]{32}$"
# Free text may hold tabs and line breaks, but no other control character (PostgreSQL refuses NUL in text).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# One word-like value: no control characters at all.
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PLAIN_TEXT_PATTERN)]

_PROJECT_ID = "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e"
_DATASET_ID = "8d2e6b1f0c4a4e9d9b7a3c5e1f2d4a6b"
_ROUND2_ID = "c41e7a9d2b6f4c0e8a1d3b5f7e9c2a4d"
_ROUND1_ID = "a7d3c9e15b2f4d6e8c0a1b3d5f7e9c1b"
_VERSION2_ID = "5b8e2d4f6a1c4e3b9d7f0a2c4e6b8d1f"
_VERSION1_ID = "e2f4a6c8b0d14f3e9a5c7b1d3f5e7a9c"
_JOB2_ID = "9e1c3a5b7d2f4e6a8c0b1d3f5a7c9e2b"
_JOB1_ID = "6c8a0e2d4b1f4a3c9e5d7b0f2a4c6e8d"
_MODEL_ID = "2a4c6e8b0d1f4e3a9c5b7d0f2e4a6c8b"
_MODEL_VERSION_ID = "7f1b3d5e9a2c4b6d8e0f1a3c5e7b9d2f"
_SERVICE_ID = "4d6f8b0a2c1e4d3f9b5a7c0e2d4f6b8a"


def _phase(
    name: str,
    title: str,
    status: str,
    started: str | None = None,
    ended: str | None = None,
    seconds: float | None = None,
    *,
    progress: float | None = None,
    instance: tuple[str, str] | None = None,
    outputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One phase of the documented examples."""
    return {
        "name": name,
        "title": title,
        "status": status,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": seconds,
        "progress": progress,
        "instance": {"type": instance[0], "id": instance[1]} if instance else None,
        "outputs": outputs or {},
        "error_msg": None,
    }


def _published(name: str, train: int, evaluate: int) -> dict[str, Any]:
    return {
        "version_name": name,
        "train_count": train,
        "eval_count": evaluate,
        "statistics": {
            "total_sample_count": train + evaluate,
            "unlabeled_count": 0,
            "label_type": "single",
            "usage": {"TRAIN": train, "EVAL": evaluate},
        },
    }


_ROUND2_PHASES: list[dict[str, Any]] = [
    _phase("label_data", "Label Data", "executed", "2026-11-24T09:00:05Z", "2026-11-24T09:12:40Z", 755.0),
    _phase(
        "publish_dataset",
        "Publish Dataset Version",
        "executed",
        "2026-11-24T09:12:40Z",
        "2026-11-24T09:12:52Z",
        12.0,
        instance=("dataset_version", _VERSION2_ID),
        outputs=_published("V002", 96, 24),
    ),
    _phase(
        "check_data",
        "Check Data",
        "executed",
        "2026-11-24T09:12:52Z",
        "2026-11-24T09:12:55Z",
        3.0,
        instance=("dataset_check", _VERSION2_ID),
        outputs={"violations": []},
    ),
    _phase(
        "train",
        "Classify Images",
        "running",
        "2026-11-24T09:12:55Z",
        progress=42.5,
        instance=("training_job", _JOB2_ID),
        outputs={"best_metric": {"accuracy": 0.875}},
    ),
    _phase("register_model", "Register Model", "init"),
    _phase("deploy_service", "Deploy Service", "init"),
]
_ROUND2: dict[str, Any] = {
    "id": _ROUND2_ID,
    "round": 2,
    "status": "running",
    "created_at": "2026-11-24T09:00:05Z",
    "ended_at": None,
    "phases": _ROUND2_PHASES,
}
_ROUND1: dict[str, Any] = {
    "id": _ROUND1_ID,
    "round": 1,
    "status": "completed",
    "created_at": "2026-11-23T10:15:00Z",
    "ended_at": "2026-11-23T11:02:31Z",
    "phases": [
        _phase("label_data", "Label Data", "executed", "2026-11-23T10:15:00Z", "2026-11-23T10:31:12Z", 972.0),
        _phase(
            "publish_dataset",
            "Publish Dataset Version",
            "executed",
            "2026-11-23T10:31:12Z",
            "2026-11-23T10:31:20Z",
            8.0,
            instance=("dataset_version", _VERSION1_ID),
            outputs=_published("V001", 80, 20),
        ),
        _phase(
            "check_data",
            "Check Data",
            "executed",
            "2026-11-23T10:31:20Z",
            "2026-11-23T10:31:22Z",
            2.0,
            instance=("dataset_check", _VERSION1_ID),
            outputs={"violations": []},
        ),
        _phase(
            "train",
            "Classify Images",
            "executed",
            "2026-11-23T10:31:22Z",
            "2026-11-23T10:52:47Z",
            1285.0,
            progress=100.0,
            instance=("training_job", _JOB1_ID),
            outputs={
                "metrics": {
                    "accuracy": 0.9,
                    "precision": 0.9048,
                    "recall": 0.9,
                    "f1": 0.8997,
                    "eval_count": 20,
                },
                "engine": "image_classification",
                "package_uri": f"s3://exeml/training/default/{_JOB1_ID}/package",
                "stopped_early": False,
            },
        ),
        _phase(
            "register_model",
            "Register Model",
            "executed",
            "2026-11-23T10:52:47Z",
            "2026-11-23T10:52:49Z",
            2.0,
            instance=("model_version", _MODEL_VERSION_ID),
            outputs={
                "model_id": _MODEL_ID,
                "model_name": "exeML-flowers",
                "model_version": "0.0.1",
                "version_id": _MODEL_VERSION_ID,
            },
        ),
        _phase(
            "deploy_service",
            "Deploy Service",
            "executed",
            "2026-11-23T10:52:49Z",
            "2026-11-23T11:02:31Z",
            582.0,
            instance=("service", _SERVICE_ID),
            outputs={
                "config": [
                    {
                        "model_id": _MODEL_ID,
                        "model_version": "0.0.1",
                        "weight": 100,
                        "specification": "modelarts.vm.cpu.2u",
                        "instance_count": 1,
                    }
                ],
                "status": "running",
            },
        ),
    ],
}
EXECUTIONS_EXAMPLE: list[dict[str, Any]] = [_ROUND2, _ROUND1]


def _project(**changes: Any) -> dict[str, Any]:
    project: dict[str, Any] = {
        "id": _PROJECT_ID,
        "name": "flowers",
        "project_type": "image_classification",
        "description": "Sort flower photos into five kinds",
        "dataset_id": _DATASET_ID,
        "output_path": "s3://exeml/tenants/default/flowers/output/",
        "flavor": "cpu",
        "training_params": {
            "train_evaluate_sample_ratio": "0.8",
            "max_training_duration": 60,
            "training_preference": "balance",
            "inference_hardware": "CPU",
        },
        "label_column": None,
        "label_type": None,
        "tags": ["demo"],
        "status": "running",
        "current_phase": "train",
        "rounds": 2,
        "model_id": _MODEL_ID,
        "service_id": _SERVICE_ID,
        "created_at": "2026-11-23T10:15:00Z",
        "updated_at": "2026-11-24T09:12:55Z",
        "execution": _ROUND2,
    }
    return project | changes


class TrainingParams(BaseModel):
    """The trainer's parameters with the seed's defaults (validated again by the trainer)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "train_evaluate_sample_ratio": "0.8",
                    "max_training_duration": 60,
                    "training_preference": "balance",
                    "inference_hardware": "CPU",
                },
            ]
        },
    )

    train_evaluate_sample_ratio: RatioText = ratio_field("0.8")
    max_training_duration: int = Field(default=60, ge=6, le=6000, description="Minutes")
    training_preference: Literal["performance_first", "balance", "accuracy_first"] = "balance"
    inference_hardware: InferenceHardware = "CPU"
    max_inference_duration_ms: int | None = Field(default=None, ge=1, le=20000)
    incremental_training_version: str | None = Field(
        default=None,
        pattern=MODEL_VERSION_PATTERN,
        description="A model version of the project to start from (a later round's: a new project has none)",
        examples=["0.0.1"],
    )

    @model_validator(mode="before")
    @classmethod
    def _one_ratio_name(cls, data: Any) -> Any:
        return one_ratio_name(data)


class RoundParams(BaseModel):
    """Overrides of the project's training parameters for one round; what is left out keeps the project's value."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"max_training_duration": 120, "training_preference": "accuracy_first"},
            ]
        },
    )

    train_evaluate_sample_ratio: RatioText | None = ratio_field(None)
    max_training_duration: int | None = Field(default=None, ge=6, le=6000, description="Minutes")
    training_preference: Literal["performance_first", "balance", "accuracy_first"] | None = None
    inference_hardware: InferenceHardware | None = None
    max_inference_duration_ms: int | None = Field(default=None, ge=1, le=20000)
    incremental_training_version: str | None = Field(
        default=None,
        pattern=MODEL_VERSION_PATTERN,
        description="Train on from this model version of the project (one its rounds registered), e.g. the "
        "version with the best metrics",
        examples=["0.0.1"],
    )
    dataset_version_name: str | None = Field(
        default=None,
        pattern=VERSION_NAME_PATTERN,
        description="The name of the dataset version the round's Publish phase creates (1–32 letters, digits, "
        "'-', '_'; one the dataset has is a 409, ModelArts.4371); default: the dataset's next V001, V002…",
        examples=["spring-2026"],
    )

    @model_validator(mode="before")
    @classmethod
    def _one_ratio_name(cls, data: Any) -> Any:
        return one_ratio_name(data)


class ProjectCreate(BaseModel):
    """A new ExeML project. The example creates an image classification project from images (and their labels) under
    `input_path`. A table project (`predictive_analytics`) also names the column to predict and its data type, e.g.
    `{"name": "churn", "project_type": "predictive_analytics", "input_path": "s3://exeml/tenants/default/churn/input/",
    "label_column": "churned", "label_type": "discrete", "with_column_header": true}`; `label_column` and
    `label_type` are refused for the other types (and `with_column_header` is ignored). Give either `dataset_id` (an existing
    dataset of the project's type) or `input_path` (a new dataset is imported from it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "flowers",
                    "project_type": "image_classification",
                    "description": "Sort flower photos into five kinds",
                    "input_path": "s3://exeml/tenants/default/flowers/input/",
                    "output_path": "s3://exeml/tenants/default/flowers/output/",
                    "flavor": "cpu",
                    "training_params": {
                        "train_evaluate_sample_ratio": "0.8",
                        "max_training_duration": 60,
                        "training_preference": "balance",
                        "inference_hardware": "CPU",
                    },
                    "tags": ["demo"],
                }
            ]
        }
    )

    name: str = Field(
        pattern=NAME_PATTERN,
        examples=["flowers"],
        description="1–64 letters, digits, '_' or '-', starting with a letter; unique per tenant",
    )
    project_type: ProjectType
    description: str = Field(default="", max_length=500, pattern=TEXT_PATTERN)
    dataset_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="An existing dataset of the same type"
    )
    input_path: str | None = Field(
        default=None,
        max_length=1024,
        pattern=PLAIN_TEXT_PATTERN,
        description="s3://… folder to create the dataset from (without it and without dataset_id: "
        "`s3://<bucket>/tenants/<tenant>/<name>/input/`, the tenant's own area)",
        examples=["s3://exeml/tenants/default/flowers/input/"],
    )
    output_path: str | None = Field(
        default=None,
        max_length=1024,
        pattern=PLAIN_TEXT_PATTERN,
        description="s3://… folder for the dataset's versions (its work path; default: "
        "`s3://<bucket>/tenants/<tenant>/<name>/output/` for a new dataset)",
        examples=["s3://exeml/tenants/default/flowers/output/"],
    )
    flavor: str = Field(
        default="cpu",
        max_length=64,
        pattern=PLAIN_TEXT_PATTERN,
        description="Training flavor: `cpu`, `gpu` or the guide's name (`Free (GPU)`, `Compute-intensive 1 "
        "instance (GPU)`…); stored as the queue it runs on here. GET /v1/projects/flavors lists them per project "
        "type with their availability; one this installation cannot run is a 400 naming `flavor`",
        examples=["cpu", "Free (GPU)"],
    )
    training_params: TrainingParams = Field(default_factory=TrainingParams)
    label_column: str | None = Field(
        default=None,
        max_length=256,
        pattern=PLAIN_TEXT_PATTERN,
        description="Predictive analytics only: the column to predict",
    )
    label_type: Literal["discrete", "continuous"] | None = Field(
        default=None,
        description="Predictive analytics only: discrete → classification, continuous → regression",
    )
    with_column_header: StrictBool | None = Field(
        default=None, description="Predictive analytics only: the CSV files have a header row (default true)"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class ProjectUpdate(BaseModel):
    """What may change on a project: its name, its description and its tags (each replaced as a whole). The
    other fields (type, dataset, label column…) are fixed at creation: naming one is a 400."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "description": "Sort flower photos into five kinds (round 2: more tulips)",
                    "tags": ["demo", "flowers"],
                },
                {"name": "flowers-2026"},
            ]
        },
    )

    name: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        examples=["flowers-2026"],
        description="1–64 letters, digits, '_' or '-', starting with a letter; unique per tenant",
    )
    description: str | None = Field(default=None, max_length=500, pattern=TEXT_PATTERN)
    tags: list[Tag] | None = Field(default=None, max_length=20)


class InstanceRef(BaseModel):
    """The resource a phase created: a dataset version (publish, check), a training job, a model version or a service."""

    type: InstanceType
    id: str = Field(examples=[_VERSION2_ID])


class PhaseRead(BaseModel):
    """One phase of a round. `status`: `init` (not reached yet), `awaiting_operation` (Label Data: label, then
    **next**), `awaiting_input` (Deploy Service: answer **deploy**), `running`, `executed`, `failed` (see
    `error_msg`; **retry**) or `stopped` (**stop**; **retry**)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ROUND2_PHASES[3]]})

    name: PhaseName
    title: str = Field(description="As the console shows it; the training phase is named after the task")
    status: PhaseStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = Field(
        default=None, description="From start to end, once the phase has ended"
    )
    progress: float | None = Field(
        default=None, description="Training progress in percent (Train phase only)"
    )
    instance: InstanceRef | None = None
    outputs: dict[str, Any] = Field(
        description="What the phase produced: dataset version counts, data check "
        "violations, training metrics, the registered model version, the "
        "service configuration"
    )
    error_msg: str | None = None


class ExecutionRead(BaseModel):
    """One round (execution) of a project and its phases in order."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ROUND2]})

    id: str
    round: int = Field(description="1, 2, …: round N registers model version 0.0.N")
    status: ExecutionStatus
    created_at: datetime
    ended_at: datetime | None = None
    phases: list[PhaseRead]


class ProjectRead(BaseModel):
    """A project with its current round (`execution`; left out in lists)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_project()]})

    id: str
    name: str
    project_type: ProjectType
    description: str
    dataset_id: str
    output_path: str | None = None
    flavor: Literal["cpu", "gpu"]
    training_params: dict[str, Any]
    label_column: str | None = None
    label_type: Literal["discrete", "continuous"] | None = None
    tags: list[str]
    status: ProjectStatus
    current_phase: PhaseName | None = None
    rounds: int
    model_id: str | None = None
    service_id: str | None = None
    created_at: datetime
    updated_at: datetime
    execution: ExecutionRead | None = None


class ProjectList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        _project(execution=None),
                        _project(
                            id="b3d5f7a9c1e24b6d8f0a2c4e6b8d0f1a",
                            name="churn",
                            project_type="predictive_analytics",
                            description="Which customers leave",
                            dataset_id="f0a2c4e6b8d14f3a9c5e7b1d3f5a7c9e",
                            output_path=None,
                            label_column="churned",
                            label_type="discrete",
                            tags=[],
                            status="abnormal",
                            current_phase="check_data",
                            rounds=1,
                            model_id=None,
                            service_id=None,
                            created_at="2026-11-22T14:03:11Z",
                            updated_at="2026-11-22T14:04:02Z",
                            execution=None,
                        ),
                    ],
                    "total": 2,
                }
            ]
        }
    )

    items: list[ProjectRead]
    total: int


class DeployConfigEntry(BaseModel):
    """One model version of the service and its share of the traffic (as the inference service's `config`)."""

    model_id: str = Field(min_length=1, max_length=64, pattern=PLAIN_TEXT_PATTERN, examples=[_MODEL_ID])
    model_version: str = Field(pattern=MODEL_VERSION_PATTERN, examples=["0.0.2"])
    weight: int = Field(
        ge=0, le=100, description="Traffic in percent; the weights sum to 100", examples=[100]
    )
    specification: str = Field(
        default="modelarts.vm.cpu.2u",
        max_length=64,
        pattern=PLAIN_TEXT_PATTERN,
        description="One of GET /v1/services/specifications (the service answers with these names); the short "
        "`cpu`/`gpu` and the guide's names (`Free (CPU)`, `Compute-intensive 3 instance (CPU)`, `NV_P4`…) are "
        "taken too: see GET /v1/projects/flavors",
        examples=["modelarts.vm.cpu.2u", "Free (CPU)"],
    )
    instance_count: int = Field(default=1, ge=1, le=5, description="Compute nodes, 1–5")


class DeploySchedule(BaseModel):
    """Auto stop after `duration` hours."""

    type: Literal["stop"] = "stop"
    time_unit: Literal["HOURS"] = "HOURS"
    duration: int = Field(
        ge=1, le=24, description="Hours until the service stops: presets 1/2/4/6 or 1–24", examples=[1]
    )


class DeployRequest(BaseModel):
    """Deploy parameters; without `config` this round's model version gets 100 % of the traffic. Auto stop is on
    by default (a new service stops after 1 hour, or after `schedule[0].duration` hours); `auto_stop: false`
    switches it off: the service runs until it is stopped."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "specification": "modelarts.vm.cpu.2u",
                    "instance_count": 1,
                    "schedule": [{"type": "stop", "time_unit": "HOURS", "duration": 1}],
                },
                {"specification": "modelarts.vm.cpu.2u", "instance_count": 1, "auto_stop": False},
                {
                    "config": [
                        {
                            "model_id": _MODEL_ID,
                            "model_version": "0.0.2",
                            "weight": 80,
                            "specification": "modelarts.vm.cpu.2u",
                            "instance_count": 1,
                        },
                        {
                            "model_id": _MODEL_ID,
                            "model_version": "0.0.1",
                            "weight": 20,
                            "specification": "modelarts.vm.cpu.2u",
                            "instance_count": 1,
                        },
                    ],
                },
            ]
        },
    )

    config: list[DeployConfigEntry] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Split the traffic between model versions (e.g. 80/20); the weights sum to 100",
    )
    specification: str = Field(
        default="modelarts.vm.cpu.2u",
        max_length=64,
        pattern=PLAIN_TEXT_PATTERN,
        description="Without `config`: one of GET /v1/services/specifications; the short `cpu`/`gpu` and the "
        "guide's names (`Free (CPU)`, `Compute-intensive 3 instance (CPU)`, `NV_P4`…) are taken too: see "
        "GET /v1/projects/flavors",
        examples=["modelarts.vm.cpu.2u", "Free (CPU)"],
    )
    instance_count: int = Field(default=1, ge=1, le=5, description="Without `config`: compute nodes, 1–5")
    schedule: list[DeploySchedule] | None = Field(
        default=None,
        max_length=1,
        description="Auto stop, as the service's `schedule`: a list of one (one object is taken too); `[]`: no "
        "auto stop; left out: a new service stops after 1 hour, an existing one keeps its setting",
    )
    auto_stop: StrictBool = Field(
        default=True,
        description="false: no auto stop, the service runs until it is stopped (then give no `schedule`)",
    )
    service_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="For a new service; default `exeML-<project name>`",
    )

    _schedule = field_validator("schedule", mode="before")(lambda cls, v: schedule_list(v))

    @field_validator("auto_stop")
    @classmethod
    def _no_schedule_without_auto_stop(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and info.data.get("schedule"):
            raise ValueError("auto_stop false and a schedule contradict each other: give one of them")
        return value


class RoundCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"training_params": {"max_training_duration": 120, "training_preference": "accuracy_first"}},
            ]
        }
    )

    training_params: RoundParams = Field(default_factory=RoundParams, description="Overrides for this round")
