"""Request and response bodies of batch services (``/v1/batch-services``, ModelArts' ``infer_type: batch``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inference.models import BATCH_STATUSES
from inference.schemas import DESCRIPTION_PATTERN, MODEL_ID, NAME_PATTERN, VERSION_PATTERN
from shared.naming import ID_PATTERN

__all__ = [
    "BATCH_ID",
    "BatchConfig",
    "BatchServiceCreate",
    "BatchServiceList",
    "BatchServiceRead",
    "BatchServiceUpdate",
    "BatchStatusName",
]

BATCH_ID = "9b4d2e7f1a3c4b6d8e0f2a4c6e8b0d1f"
BatchStatusName = Literal[BATCH_STATUSES]  # type: ignore[valid-type]  # a Literal of the model's BATCH_STATUSES, listed once
_CONFIG_EXAMPLE: dict[str, Any] = {
    "model_id": MODEL_ID,
    "model_version": "0.0.1",
    "specification": "modelarts.vm.cpu.2u",
    "instance_count": 1,
    "src_path": "s3://exeml/tenants/acme/flowers/to-classify/",
    "dest_path": "s3://exeml/tenants/acme/flowers/answers/",
}
_READ_EXAMPLE: dict[str, Any] = {
    "service_id": BATCH_ID,
    "service_name": "flowers-batch",
    "description": "Classify the spring photos",
    "infer_type": "batch",
    "status": "running",
    "progress": 40,
    "error_msg": None,
    "config": [{**_CONFIG_EXAMPLE, "model_name": "flowers", "task_type": "image_classification"}],
    "input_count": 1000,
    "processed_count": 400,
    "failed_count": 2,
    "results": [],
    "publish_at": "2026-12-04T10:35:00Z",
    "update_time": "2026-12-04T10:37:05Z",
    "started_at": "2026-12-04T10:35:02Z",
    "finished_at": None,
}


class BatchConfig(BaseModel):
    """The model version a batch service runs, its compute nodes, and the folders it reads and writes."""

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_CONFIG_EXAMPLE]})

    model_id: str = Field(pattern=ID_PATTERN, description="An AI application (GET /v1/models)")
    model_version: str = Field(pattern=VERSION_PATTERN, description="0.0.1, 0.0.2, …")
    specification: str = Field(
        default="modelarts.vm.cpu.2u", description="One of GET /v1/services/specifications"
    )
    instance_count: int = Field(default=1, ge=1, le=5, description="Compute nodes (Triton instances), 1-5")
    src_path: str = Field(
        min_length=1,
        max_length=1024,
        description="The folder of inputs, in the tenant's storage (s3://…/ or ModelArts' /bucket/key/). By task "
        "type: images (.jpg .jpeg .png .bmp), sounds (.wav), text files (.txt: each non-blank line is one "
        "input), tables (.csv with a header row: each row is one input); other files are left out",
    )
    dest_path: str = Field(
        min_length=1,
        max_length=1024,
        description="The folder the answers go to (results.jsonl, and results.csv for tables); it may not "
        "overlap src_path",
    )


class BatchServiceCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_name": "flowers-batch",
                    "description": "Classify the spring photos",
                    "infer_type": "batch",
                    "config": [_CONFIG_EXAMPLE],
                }
            ]
        }
    )

    service_name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=100, pattern=DESCRIPTION_PATTERN)
    infer_type: Literal["batch"] = "batch"
    config: list[BatchConfig] = Field(
        min_length=1, max_length=1, description="One entry, as ModelArts' batch services take it"
    )


class BatchServiceUpdate(BaseModel):
    """``{"status": "stopped"}`` stops a batch service after the chunk in hand; the answers written so far
    are in its result files."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "stopped"}]})

    status: Literal["stopped"]


class BatchConfigRead(BatchConfig):
    model_name: str
    task_type: str


class BatchServiceRead(BaseModel):
    """A batch service: its status, progress and counts, and where the answers are."""

    model_config = ConfigDict(json_schema_extra={"examples": [_READ_EXAMPLE]})

    service_id: str
    service_name: str
    description: str
    infer_type: Literal["batch"] = "batch"
    status: BatchStatusName
    progress: int = Field(description="Percent of the inputs answered, 0-100")
    error_msg: str | None
    config: list[BatchConfigRead]
    input_count: int = Field(description="Inputs found in src_path (0 until a worker listed them)")
    processed_count: int = Field(description="Inputs answered so far (answers and error lines)")
    failed_count: int = Field(description="Of those, inputs answered with an error line")
    results: list[str] = Field(
        description="The result files once finished or stopped: results.jsonl (one line per input, in input "
        "order), and results.csv for tables"
    )
    publish_at: datetime
    update_time: datetime
    started_at: datetime | None = Field(description="When a worker started answering")
    finished_at: datetime | None = Field(description="When it finished, stopped or failed")


class BatchServiceList(BaseModel):
    items: list[BatchServiceRead]
    total: int = Field(description="Batch services matching the filters", examples=[1])
