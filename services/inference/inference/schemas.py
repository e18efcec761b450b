"""Request and response bodies of the inference API (ModelArts' real-time service shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VERSION_PATTERN = r"^(0|[1-9]\d?)\.(0|[1-9]\d?)\.(0|[1-9]\d?)$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
DESCRIPTION_PATTERN = r"^[^!<>+&\"']*$"
SCHEDULE_PRESETS_HOURS = (1, 2, 4, 6)  # the console's presets; any integer 1-24 is accepted as "custom"


class ConfigEntry(BaseModel):
    """One model version of a service with its share of the traffic and its compute nodes."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str = Field(min_length=1, max_length=64)
    model_version: str = Field(pattern=VERSION_PATTERN, description="0.0.1, 0.0.2, …")
    weight: int = Field(ge=0, le=100, description="Traffic ratio in percent; the weights of a service sum to 100")
    specification: str = Field(default="modelarts.vm.cpu.2u", description="One of GET /v1/services/specifications")
    instance_count: int = Field(default=1, ge=1, le=5, description="Compute nodes (Triton instances), 1-5")

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_as_int(cls, value: Any) -> Any:
        # ModelArts' own examples send weights as strings ("70").
        return int(value) if isinstance(value, str) and value.isdigit() else value


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
    ``schedule`` ``[]`` turns auto stop off; ``null`` or absent leaves it as it is."""

    status: Literal["running", "stopped"] | None = None
    description: str | None = Field(default=None, max_length=100, pattern=DESCRIPTION_PATTERN)
    config: list[ConfigEntry] | None = Field(default=None, min_length=1, max_length=5)
    schedule: list[Schedule] | None = Field(default=None, max_length=1)

    _config = field_validator("config")(lambda cls, v: v if v is None else _check_config(v))
    _schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule_list(v))

    @model_validator(mode="after")
    def _something(self) -> ServiceUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to update: give status, config, schedule or description")
        return self


class ServedConfig(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    model_name: str
    model_version: str
    weight: int
    specification: str
    instance_count: int
    task_type: str
    source_type: str = "auto"


class ServiceRead(BaseModel):
    service_id: str
    service_name: str
    description: str
    infer_type: str = "real-time"
    status: str
    progress: int
    error_msg: str | None
    config: list[ServedConfig]
    pending_config: list[ServedConfig] | None = Field(description="A config update being rolled out")
    schedule: list[Schedule]
    due_time: datetime | None
    invocation_times: int
    failed_times: int
    access_address: str
    publish_at: datetime
    update_time: datetime
    transition_at: datetime


class ServiceList(BaseModel):
    items: list[ServiceRead]
    total: int


class ServiceEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_type: str
    event_info: str
    detail: dict[str, Any] | None
    occur_time: datetime


class ServiceEventList(BaseModel):
    items: list[ServiceEventRead]
    total: int


class Specification(BaseModel):
    specification: str
    category: Literal["CPU", "GPU"]
    cpu: float
    memory_gb: int
    display_en: str
    is_open: bool


class SpecificationList(BaseModel):
    items: list[Specification]
    total: int
