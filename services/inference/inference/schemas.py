"""Request and response bodies of the inference API (ModelArts' real-time service shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypeAliasType

from inference.models import STATUSES
from inference.numbers import with_numbers
from shared.naming import ID_PATTERN

VERSION_PATTERN = r"^(0|[1-9]\d?)\.(0|[1-9]\d?)\.(0|[1-9]\d?)$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
DESCRIPTION_PATTERN = r"^[^!<>+&\"'\x00-\x1f\x7f]*$"
ServiceStatusName = Literal[STATUSES]  # type: ignore[valid-type]  # a Literal of the model's STATUSES, listed once
SCHEDULE_PRESETS_HOURS = (1, 2, 4, 6)  # the console's presets; any integer 1-24 is accepted as "custom"
# Ids (services, models): letters, digits, '_' and '-'; control characters never reach the database.

SERVICE_ID = "2c7e9a4f1d3b4e6a8c0f5b7d9e1a3c5f"
MODEL_ID = "6a1f0c9e2d8b4f7a9c3e5d1b0a2f4e6c"
_CONFIG_EXAMPLE: dict[str, Any] = {
    "model_id": MODEL_ID,
    "model_version": "0.0.1",
    "weight": 100,
    "specification": "modelarts.vm.cpu.2u",
    "instance_count": 1,
}
_SERVED_EXAMPLE: dict[str, Any] = {
    **_CONFIG_EXAMPLE,
    "model_name": "flowers",
    "task_type": "image_classification",
    "source_type": "auto",
}
_SHADOW_EXAMPLE: dict[str, Any] = {
    "model_id": MODEL_ID,
    "model_name": "flowers",
    "model_version": "0.0.2",
    "share": 20,
    "agreement_rule": "same predicted_label",
    "requests": 200,
    "agreements": 188,
    "agreement_rate": 0.94,
    "errors": 0,
    "live_latency_ms": {"p50": 8.1, "p95": 14.9},
    "shadow_latency_ms": {"p50": 9.7, "p95": 19.3},
}
_SERVICE_EXAMPLE: dict[str, Any] = {
    "service_id": SERVICE_ID,
    "service_name": "flowers-service",
    "description": "Flower classifier",
    "infer_type": "real-time",
    "status": "running",
    "progress": 100,
    "error_msg": None,
    "config": [_SERVED_EXAMPLE],
    "pending_config": None,
    "schedule": [{"type": "stop", "time_unit": "HOURS", "duration": 1}],
    "due_time": "2026-11-23T11:36:05Z",
    "invocation_times": 42,
    "failed_times": 1,
    "shadow": _SHADOW_EXAMPLE,
    "access_address": f"http://localhost:8000/v1/infers/{SERVICE_ID}",
    "publish_at": "2026-11-23T10:35:00Z",
    "update_time": "2026-11-23T10:36:05Z",
    "transition_at": "2026-11-23T10:36:05Z",
}


class ConfigEntry(BaseModel):
    """One model version of a service with its share of the traffic and its compute nodes."""

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_CONFIG_EXAMPLE]})

    model_id: str = Field(pattern=ID_PATTERN, description="An AI application (GET /v1/models)")
    model_version: str = Field(pattern=VERSION_PATTERN, description="0.0.1, 0.0.2, …")
    weight: int = Field(
        ge=0, le=100, description="Traffic ratio in percent; the weights of a service sum to 100"
    )
    specification: str = Field(
        default="modelarts.vm.cpu.2u",
        description="One of GET /v1/services/specifications, `cpu`/`gpu`, or the guide's name (`Free (CPU)`, "
        "`Compute-intensive 3 instance (CPU)`, `NV_P4`…), served as the specification it maps onto here",
    )
    instance_count: int = Field(default=1, ge=1, le=5, description="Compute nodes (Triton instances), 1-5")

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_as_int(cls, value: Any) -> Any:
        # ModelArts' own examples send weights as strings ("70").
        return int(value) if isinstance(value, str) and value.isdigit() else value


class ShadowConfig(BaseModel):
    """A candidate version that gets a copy of ``share`` percent of the requests; its answers are compared
    with the live ones and never returned (see ``shadow`` on the service)."""

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={"examples": [{"model_id": MODEL_ID, "model_version": "0.0.2", "share": 20}]},
    )

    model_id: str = Field(pattern=ID_PATTERN, description="An AI application (GET /v1/models)")
    model_version: str = Field(
        pattern=VERSION_PATTERN, description="The candidate version; may be a live one"
    )
    share: int = Field(ge=0, le=100, description="Percent of the requests mirrored to the shadow")
    specification: str = Field(
        default="modelarts.vm.cpu.2u", description="One of GET /v1/services/specifications"
    )
    instance_count: int = Field(default=1, ge=1, le=5, description="Compute nodes (Triton instances), 1-5")

    def as_entry(self) -> ConfigEntry:
        """The shadow as a config entry with no live traffic."""
        return ConfigEntry(
            model_id=self.model_id,
            model_version=self.model_version,
            weight=0,
            specification=self.specification,
            instance_count=self.instance_count,
        )


class Schedule(BaseModel):
    """Auto stop: ``{"type": "stop", "time_unit": "HOURS", "duration": 1..24}``."""

    type: Literal["stop"] = "stop"
    time_unit: Literal["HOURS"] = "HOURS"
    duration: int = Field(ge=1, le=24, description="Hours until the service stops: presets 1/2/4/6 or 1-24")


def _schedule_list(value: Any) -> Any:
    """One schedule object is taken as a list of one (the workflow service sends an object)."""
    return [value] if isinstance(value, dict) else value


def _check_config(config: list[ConfigEntry]) -> list[ConfigEntry]:
    if sum(e.weight for e in config) != 100:
        raise ValueError("the weights of the config entries must sum to 100")
    keys = [(e.model_id, e.model_version) for e in config]
    if len(set(keys)) != len(keys):
        raise ValueError("a model version may appear only once in a service (ModelArts.3516)")
    return config


class ServiceCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_name": "flowers-service",
                    "description": "Flower classifier",
                    "infer_type": "real-time",
                    "config": [_CONFIG_EXAMPLE],
                    "schedule": [{"type": "stop", "time_unit": "HOURS", "duration": 1}],
                }
            ]
        }
    )

    service_name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=100, pattern=DESCRIPTION_PATTERN)
    infer_type: Literal["real-time"] = "real-time"
    config: list[ConfigEntry] = Field(min_length=1, max_length=5)
    schedule: list[Schedule] | None = Field(
        default=None, max_length=1, description="Auto stop; omitted: stop after 1 hour; []: never stop"
    )

    _config = field_validator("config")(_check_config)
    _schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule_list(v))


class ServiceUpdate(BaseModel):
    """Start/stop (``status``) **or** change config/schedule/description; with ``status``, only it applies.
    ``schedule`` ``[]`` turns auto stop off; ``null`` or absent leaves it as it is. At least one field."""

    model_config = ConfigDict(
        json_schema_extra={
            "minProperties": 1,
            "examples": [
                {"status": "stopped"},
                {"shadow": {"model_id": MODEL_ID, "model_version": "0.0.2", "share": 20}},
            ],
        }
    )

    status: Literal["running", "stopped"] | None = None
    description: str | None = Field(default=None, max_length=100, pattern=DESCRIPTION_PATTERN)
    config: list[ConfigEntry] | None = Field(default=None, min_length=1, max_length=5)
    schedule: list[Schedule] | None = Field(default=None, max_length=1)
    shadow: ShadowConfig | None = Field(
        default=None,
        description="Mirror a share of the requests to a candidate version; null removes the shadow, "
        "absent keeps it",
    )

    _config = field_validator("config")(lambda cls, v: v if v is None else _check_config(v))
    _schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule_list(v))

    @model_validator(mode="after")
    def _something(self) -> ServiceUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to update: give status, config, schedule or description")
        return self


class ServedConfig(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_SERVED_EXAMPLE]})

    model_id: str
    model_name: str
    model_version: str
    weight: int
    specification: str
    instance_count: int
    task_type: str
    source_type: str = "auto"


class LatencyPercentiles(BaseModel):
    p50: float | None = Field(description="Median, milliseconds; null before the first call")
    p95: float | None = Field(description="95th percentile, milliseconds; null before the first call")


class ShadowRead(BaseModel):
    """The shadow and how it compares with the live answers, as this process saw them since the shadow was
    set (kept in memory: a restart starts the figures again; latencies over the last 1,000 calls)."""

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_SHADOW_EXAMPLE]})

    model_id: str
    model_name: str
    model_version: str
    share: int = Field(description="Percent of the requests mirrored to the shadow")
    agreement_rule: str = Field(
        description="When a shadow answer agrees with the live one, for this task type"
    )
    requests: int = Field(description="Shadow calls that answered")
    agreements: int = Field(description="Of those, answers that agree with the live answer")
    agreement_rate: float | None = Field(description="agreements / requests; null before the first answer")
    errors: int = Field(description="Shadow calls that failed (never seen by the caller)")
    live_latency_ms: LatencyPercentiles = Field(description="The live calls' Triton latency")
    shadow_latency_ms: LatencyPercentiles = Field(description="The shadow calls' Triton latency")


class ServiceRead(BaseModel):
    """A real-time service (ModelArts' service detail)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SERVICE_EXAMPLE]})

    service_id: str
    service_name: str
    description: str
    infer_type: str = "real-time"
    status: ServiceStatusName
    progress: int = Field(description="Deployment progress in percent, 0-100")
    error_msg: str | None
    config: list[ServedConfig] = Field(description="The versions serving now (while deploying: being loaded)")
    pending_config: list[ServedConfig] | None = Field(description="A config update being rolled out")
    schedule: list[Schedule] = Field(description="Auto stop; [] when off")
    due_time: datetime | None = Field(description="When auto stop stops the service")
    invocation_times: int
    failed_times: int
    shadow: ShadowRead | None = Field(
        default=None, description="The shadow version and its figures; null: none"
    )
    access_address: str
    publish_at: datetime
    update_time: datetime
    transition_at: datetime


class ServiceList(BaseModel):
    items: list[ServiceRead]
    total: int = Field(description="Services matching the filters", examples=[1])


class ServiceEventRead(BaseModel):
    """One event (``/events``) or update record (``/logs``, with the config before and after in ``detail``)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "event_type": "normal",
                    "event_info": "traffic weights updated",
                    "detail": {
                        "before": [{"model_id": MODEL_ID, "model_version": "0.0.1", "weight": 100}],
                        "after": [{"model_id": MODEL_ID, "model_version": "0.0.1", "weight": 100}],
                        "result": "succeeded",
                    },
                    "occur_time": "2026-11-23T10:40:12Z",
                }
            ]
        },
    )

    event_type: Literal["normal", "abnormal"]
    event_info: str = Field(description="What happened, in words")
    detail: dict[str, Any] | None = Field(description="Updates: before, after and result")
    occur_time: datetime


class ServiceEventList(BaseModel):
    items: list[ServiceEventRead]
    total: int = Field(description="Events of the service", examples=[1])


class Specification(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "specification": "modelarts.vm.cpu.2u",
                    "category": "CPU",
                    "cpu": 2.0,
                    "memory_gb": 8,
                    "display_en": "CPU: 2 vCPUs | 8 GiB",
                    "is_open": True,
                }
            ]
        }
    )

    specification: str
    category: Literal["CPU", "GPU"]
    cpu: float
    memory_gb: int
    display_en: str
    is_open: bool


class SpecificationList(BaseModel):
    items: list[Specification]
    total: int = Field(examples=[3])


# -- predictions (POST /v1/infers/{service_id}) -------------------------------------------------------------
# The answer is what the model package's predictor returns (shared.packages), per task type. Confidences and
# box coordinates are decimal strings, as in the ExeML guide's examples (ADR 0022): confidences with 3
# decimals ("0.972"), box coordinates in pixels with 2. `numbers=true` answers the same values as JSON
# numbers (the *NumbersAnswer shapes, inference.answers).

Decimal = Annotated[
    str, Field(pattern=r"^\d+\.\d+$", description="A decimal number written as a string", examples=["0.972"])
]
_IMAGE_EXAMPLE: dict[str, Any] = {
    "predicted_label": "sunflowers",
    "scores": [["sunflowers", "0.972"], ["dandelion", "0.028"], ["daisy", "0.000"]],
}
_DETECTION_EXAMPLE: dict[str, Any] = {
    "detection_classes": ["yunbao", "yunbao"],
    "detection_boxes": [["60.89", "268.44", "652.69", "806.91"], ["103.10", "92.80", "765.60", "945.70"]],
    "detection_scores": ["1.000", "0.731"],
}
_LABEL_EXAMPLE: dict[str, Any] = {
    "predicted_label": "positive",
    "score": "0.943",
    "scores": [["positive", "0.943"], ["neutral", "0.041"], ["negative", "0.016"]],
}


class ImageClassificationAnswer(BaseModel):
    """Image classification: the best label and the top 5 ``[label, score]`` pairs, scores as decimal strings
    with 3 decimals (the ExeML guide's example)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_IMAGE_EXAMPLE]})

    predicted_label: str
    scores: list[tuple[str, Decimal]] = Field(description="Top 5 [label, score], best first")


class ObjectDetectionAnswer(BaseModel):
    """Object detection: aligned lists sorted by decreasing score; boxes are ``[y_min, x_min, y_max, x_max]``
    in pixels of the original image (origin top left). Coordinates (2 decimals) and scores (3 decimals) are
    decimal strings, as in the ExeML guide's example."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DETECTION_EXAMPLE]})

    detection_classes: list[str]
    detection_boxes: list[tuple[Decimal, Decimal, Decimal, Decimal]]
    detection_scores: list[Decimal]


class LabelAnswer(BaseModel):
    """Sound and text classification: the best label, its score and the top 5 ``[label, score]`` pairs,
    scores as decimal strings with 3 decimals (as image classification's)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LABEL_EXAMPLE]})

    predicted_label: str
    score: Decimal
    scores: list[tuple[str, Decimal]] = Field(description="Top 5 [label, score], best first")


class ImageClassificationNumbersAnswer(BaseModel):
    """Image classification with ``numbers=true``: the scores as JSON numbers."""

    model_config = ConfigDict(json_schema_extra={"examples": [with_numbers(_IMAGE_EXAMPLE)]})

    predicted_label: str
    scores: list[tuple[str, float]] = Field(description="Top 5 [label, score], best first")


class ObjectDetectionNumbersAnswer(BaseModel):
    """Object detection with ``numbers=true``: boxes and scores as JSON numbers."""

    model_config = ConfigDict(json_schema_extra={"examples": [with_numbers(_DETECTION_EXAMPLE)]})

    detection_classes: list[str]
    detection_boxes: list[tuple[float, float, float, float]]
    detection_scores: list[float]


class LabelNumbersAnswer(BaseModel):
    """Sound and text classification with ``numbers=true``: the scores as JSON numbers."""

    model_config = ConfigDict(json_schema_extra={"examples": [with_numbers(_LABEL_EXAMPLE)]})

    predicted_label: str
    score: float
    scores: list[tuple[str, float]] = Field(description="Top 5 [label, score], best first")


class TableRowAnswer(BaseModel):
    predict: str | float = Field(description="The predicted label (classification) or value (regression)")
    probabilities: dict[str, float] | None = Field(
        default=None, description="Classification: the probability of every label (absent for regression)"
    )


class TableAnswerData(BaseModel):
    resp_data: list[TableRowAnswer] = Field(description="One result per row of req_data, in order")


class TableAnswer(BaseModel):
    """Predictive analytics: one result per request row; ``meta`` is echoed when the request had one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "meta": {"uuid": "10eb0091-887f-4839-9929-cbc884f1e20e"},
                    "data": {
                        "resp_data": [{"predict": "yes", "probabilities": {"no": 0.1342, "yes": 0.8658}}]
                    },
                }
            ]
        }
    )

    meta: dict[str, Any] | None = Field(default=None, description="The request's meta, echoed")
    data: TableAnswerData


PredictAnswer = TypeAliasType(
    "PredictAnswer",
    ImageClassificationAnswer
    | ObjectDetectionAnswer
    | LabelAnswer
    | TableAnswer
    | ImageClassificationNumbersAnswer
    | ObjectDetectionNumbersAnswer
    | LabelNumbersAnswer,
)
