"""Training jobs, AI applications (models) and their versions, real-time and batch services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from exeml_client.models._base import APIModel
from exeml_client.models.projects import ProjectType


class Baseline(APIModel):
    __schema__ = "trainer_BaselineRead"
    name: str
    score: float | None


class Quality(APIModel):
    """The quality gate's record: the model against a trivial baseline and the best simple candidate."""

    __schema__ = "trainer_QualityRead"
    metric: str
    higher_is_better: bool
    model: float | None
    trivial: Baseline
    simple: Baseline | None
    eval_count: int
    compared: int = 1
    required: float | None
    rule: str
    passed: bool


class TrainingJob(APIModel):
    __schema__ = "trainer_TrainingJobRead"
    id: str
    name: str
    description: str
    project_id: str | None
    project_name: str | None = None
    dataset_id: str
    dataset_version_id: str
    task_type: ProjectType
    flavor: Literal["cpu", "gpu"]
    parameters: dict[str, Any]
    budget_seconds: float
    labels: list[str]
    status: Literal[
        "creating", "pending", "running", "completed", "failed", "terminating", "terminated", "abnormal"
    ]
    progress: float
    phase: str | None
    phase_timings: list[dict[str, Any]]
    best_metric: dict[str, Any] | None
    logs: list[str]
    worker_id: str | None
    lease_expires_at: datetime | None
    attempt: int
    attempts: list[dict[str, Any]]
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
    quality: Quality | None = None
    plan: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class ModelVersion(APIModel):
    __schema__ = "registry_ModelVersionRead"
    version_id: str
    model_id: str
    model_version: str
    model_status: str
    error_msg: str | None = None
    task_type: str
    package_uri: str | None
    model_size: int
    engine: str | None
    labels: list[str]
    metrics: dict[str, Any]
    training_job_id: str | None
    dataset_id: str | None
    dataset_version_id: str | None
    source_type: str
    install_type: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


class Model(APIModel):
    """An AI application: a name and its versions (0.0.1, 0.0.2, …)."""

    __schema__ = "registry_ModelRead"
    model_id: str
    model_name: str
    project_id: str | None
    task_type: str
    description: str
    version_count: int
    latest_version: ModelVersion | None
    created_at: datetime
    updated_at: datetime


class DeleteResult(APIModel):
    __schema__ = "registry_DeleteResult"
    deleted_versions: list[str]


class ServedConfig(APIModel):
    __schema__ = "inference_ServedConfig"
    model_id: str
    model_name: str
    model_version: str
    weight: int
    specification: str
    instance_count: int
    task_type: str
    source_type: str = "auto"


class Schedule(APIModel):
    __schema__ = "inference_Schedule"
    type: Literal["stop"] = "stop"
    time_unit: Literal["HOURS"] = "HOURS"
    duration: int


class LatencyPercentiles(APIModel):
    __schema__ = "inference_LatencyPercentiles"
    p50: float | None
    p95: float | None


class Shadow(APIModel):
    """A service's shadow version: its share of mirrored requests and how its answers compare."""

    __schema__ = "inference_ShadowRead"
    model_id: str
    model_name: str
    model_version: str
    share: int
    agreement_rule: str
    requests: int
    agreements: int
    agreement_rate: float | None
    errors: int
    live_latency_ms: LatencyPercentiles
    shadow_latency_ms: LatencyPercentiles


class Service(APIModel):
    __schema__ = "inference_ServiceRead"
    service_id: str
    service_name: str
    description: str
    infer_type: str = "real-time"
    status: Literal["deploying", "running", "concerning", "failed", "stopped", "stopping", "deleting"]
    progress: int
    error_msg: str | None
    config: list[ServedConfig]
    pending_config: list[ServedConfig] | None
    schedule: list[Schedule]
    due_time: datetime | None
    invocation_times: int
    failed_times: int
    shadow: Shadow | None = None
    access_address: str
    publish_at: datetime
    update_time: datetime
    transition_at: datetime

    @property
    def task_type(self) -> str:
        return (self.config or self.pending_config or [ServedConfig.model_construct(task_type="")])[
            0
        ].task_type


class BatchConfig(APIModel):
    """The model version a batch service runs, its compute nodes, the folder it reads and the one it writes."""

    __schema__ = "inference_BatchConfig"
    model_id: str
    model_version: str
    specification: str = "modelarts.vm.cpu.2u"
    instance_count: int = 1
    src_path: str
    dest_path: str


class BatchServiceCreate(APIModel):
    __schema__ = "inference_BatchServiceCreate"
    service_name: str
    description: str = ""
    infer_type: Literal["batch"] = "batch"
    config: list[BatchConfig]


class BatchConfigRead(BatchConfig):
    __schema__ = "inference_BatchConfigRead"
    model_name: str
    task_type: str


class BatchService(APIModel):
    """A batch service (``infer_type: batch``): its status, progress and counts, and its result files."""

    __schema__ = "inference_BatchServiceRead"
    service_id: str
    service_name: str
    description: str
    infer_type: Literal["batch"] = "batch"
    status: Literal["deploying", "running", "stopping", "stopped", "finished", "failed"]
    progress: int
    error_msg: str | None
    config: list[BatchConfigRead]
    input_count: int
    processed_count: int
    failed_count: int
    results: list[str]
    publish_at: datetime
    update_time: datetime
    started_at: datetime | None
    finished_at: datetime | None
