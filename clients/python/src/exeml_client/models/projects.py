"""ExeML projects, their rounds (executions) and phases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field

from exeml_client.models._base import APIModel

ProjectType = Literal[
    "image_classification",
    "object_detection",
    "predictive_analytics",
    "sound_classification",
    "text_classification",
]
RunStatus = Literal["init", "running", "completed", "stopped", "abnormal"]
PhaseName = Literal[
    "label_data", "publish_dataset", "check_data", "train", "register_model", "deploy_service"
]
PhaseStatus = Literal[
    "init", "awaiting_operation", "awaiting_input", "running", "executed", "failed", "stopped"
]


class InstanceRef(APIModel):
    __schema__ = "workflow_InstanceRef"
    type: Literal["dataset_version", "dataset_check", "training_job", "model_version", "service"]
    id: str


class Phase(APIModel):
    __schema__ = "workflow_PhaseRead"
    name: PhaseName
    title: str
    status: PhaseStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = None
    progress: float | None = None
    instance: InstanceRef | None = None
    outputs: dict[str, Any]
    error_msg: str | None = None


class Execution(APIModel):
    __schema__ = "workflow_ExecutionRead"
    id: str
    round: int
    status: RunStatus
    created_at: datetime
    ended_at: datetime | None = None
    phases: list[Phase]

    def phase(self, name: PhaseName) -> Phase:
        return next(p for p in self.phases if p.name == name)


class Project(APIModel):
    __schema__ = "workflow_ProjectRead"
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
    status: RunStatus
    current_phase: PhaseName | None = None
    rounds: int
    model_id: str | None = None
    service_id: str | None = None
    created_at: datetime
    updated_at: datetime
    execution: Execution | None = None


def _ratio_text(value: Any) -> Any:
    """A number written as the decimal string the API answers (``0.8`` → ``"0.8"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{float(value):.10f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return value


class TrainingParams(APIModel):
    __schema__ = "workflow_TrainingParams"
    # The dataset's name and string form (docs/adr/0021); ``train_ratio`` and numbers are taken, as by the API.
    train_evaluate_sample_ratio: Annotated[str, BeforeValidator(_ratio_text)] = Field(
        default="0.8", validation_alias=AliasChoices("train_evaluate_sample_ratio", "train_ratio")
    )
    max_training_duration: int = Field(default=60, description="Minutes")
    training_preference: Literal["performance_first", "balance", "accuracy_first"] = "balance"
    # The guide's NV_P4 is a GPU (the server maps it so too).
    inference_hardware: Annotated[
        Literal["CPU", "GPU"], BeforeValidator(lambda v: "GPU" if v == "NV_P4" else v)
    ] = "CPU"
    max_inference_duration_ms: int | None = None
    incremental_training_version: str | None = None


class ProjectCreate(APIModel):
    __schema__ = "workflow_ProjectCreate"
    name: str
    project_type: ProjectType
    description: str = ""
    dataset_id: str | None = None
    input_path: str | None = None
    output_path: str | None = None
    flavor: str = Field(default="cpu", description="cpu, gpu or the guide's name: see Projects.flavors")
    training_params: TrainingParams = Field(default_factory=TrainingParams)
    label_column: str | None = None
    label_type: Literal["discrete", "continuous"] | None = None
    with_column_header: bool | None = None
    tags: list[str] = Field(default_factory=list)


class DeployConfigEntry(APIModel):
    __schema__ = "workflow_DeployConfigEntry"
    model_id: str
    model_version: str
    weight: int
    specification: str = "modelarts.vm.cpu.2u"
    instance_count: int = 1


class DeploySchedule(APIModel):
    __schema__ = "workflow_DeploySchedule"
    type: Literal["stop"] = "stop"
    time_unit: Literal["HOURS"] = "HOURS"
    duration: int


class DeployRequest(APIModel):
    __schema__ = "workflow_DeployRequest"
    config: list[DeployConfigEntry] | None = None
    specification: str = "modelarts.vm.cpu.2u"
    instance_count: int = 1
    schedule: list[DeploySchedule] | None = None  # a list of one, as the service's (docs/adr/0021)
    auto_stop: bool = True
    service_name: str | None = None


class Flavor(APIModel):
    """A training flavor, deployment specification or inference hardware name and whether it runs here."""

    __schema__ = "workflow_FlavorRead"
    name: str
    category: Literal["CPU", "GPU", "NPU"]
    maps_to: str | None
    description: str
    available: bool


class FlavorCatalog(APIModel):
    __schema__ = "workflow_FlavorCatalog"
    project_type: ProjectType
    gpu_available: bool
    training_flavors: list[Flavor]
    specifications: list[Flavor]
    inference_hardware: list[Flavor]
