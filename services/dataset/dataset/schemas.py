"""Request and response bodies of the dataset API (ModelArts field names where ModelArts has them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from dataset.types import KINDS, kind_of
from shared.events.dataset import CheckViolation
from shared.storage import S3Uri

_NAME = r"^[A-Za-z0-9_-]{1,100}$"
_VERSION_NAME = r"^[A-Za-z0-9_-]{1,32}$"
_FORBIDDEN_DESC = set("^!<>=&\"'")
_RATIO = re.compile(r"^(0(\.\d{1,5})?|1(\.0{1,5})?)$")


def _description(value: str) -> str:
    bad = sorted(set(value) & _FORBIDDEN_DESC)
    if bad:
        raise ValueError(f"description must not contain {' '.join(bad)}")
    return value


def _s3_path(value: str | None) -> str | None:
    if value is None:
        return None
    S3Uri.parse(value)  # raises InvalidInput naming the rule
    return value if value.endswith("/") or value.endswith(".manifest") else value + "/"


class DatasetCreate(BaseModel):
    dataset_name: str = Field(pattern=_NAME)
    dataset_type: int | None = Field(default=None, description="ModelArts code: 0, 1, 100, 200 or 400")
    dataset_type_name: str | None = Field(default=None, description="Readable type, e.g. 'object_detection'")
    description: str = Field(default="", max_length=256)
    input_path: str | None = Field(default=None, description="s3:// prefix the data comes from")
    work_path: str | None = Field(default=None, description="s3:// prefix published versions are written to")
    label_column: str | None = Field(default=None, max_length=256, description="Tables: the label column (default: last)")
    with_column_header: bool = Field(default=True, description="Tables: the CSV files start with a header line")
    import_on_create: bool = Field(default=True, description="Start importing the input path at once")
    import_annotations: bool = True

    _desc = field_validator("description")(_description)
    _paths = field_validator("input_path", "work_path")(_s3_path)

    @model_validator(mode="after")
    def _type_known(self) -> DatasetCreate:
        kind = kind_of(self.dataset_type, None) if self.dataset_type is not None else kind_of(None, self.dataset_type_name)
        if kind is None:
            names = ", ".join(f"{k.code} ({k.name})" for k in KINDS.values())
            raise ValueError(f"dataset_type/dataset_type_name must be one of {names}")
        if self.dataset_type_name is not None and self.dataset_type_name != kind.name:
            raise ValueError(f"dataset_type {kind.code} is {kind.name}, not {self.dataset_type_name}")
        self.dataset_type = kind.code
        if self.input_path and self.work_path and self.work_path.startswith(self.input_path):
            raise ValueError("work_path must not be inside input_path")
        return self


class DatasetUpdate(BaseModel):
    dataset_name: str | None = Field(default=None, pattern=_NAME)
    description: str | None = Field(default=None, max_length=256)
    label_column: str | None = Field(default=None, max_length=256)

    _desc = field_validator("description")(lambda v: v if v is None else _description(v))


class DatasetRead(BaseModel):
    dataset_id: str
    dataset_name: str
    dataset_type: int
    dataset_type_name: str
    description: str
    input_path: str
    work_path: str
    label_column: str | None
    with_column_header: bool
    table_schema: list[dict[str, Any]] | None
    status: int
    sample_count: int = 0
    labeled_sample_count: int = 0
    unlabeled_sample_count: int = 0
    row_count: int | None = None
    create_time: datetime
    update_time: datetime
    import_task_id: str | None = None


class ImportTaskCreate(BaseModel):
    import_path: str | None = Field(default=None, description="s3:// folder or .manifest file (default: input path)")
    import_type: Literal["dir", "manifest"] | None = Field(default=None, description="Default: by the path's ending")
    import_annotations: bool = True

    _path = field_validator("import_path")(_s3_path)


class ImportTaskRead(BaseModel):
    task_id: str
    dataset_id: str
    import_path: str
    import_type: str
    kind: str
    status: str
    total_sample_count: int
    processed_sample_count: int
    imported_sample_count: int
    skipped_sample_count: int
    failed_sample_count: int
    annotated_sample_count: int
    errors: list[dict[str, Any]]
    error_msg: str | None
    create_time: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SampleRead(BaseModel):
    sample_id: str
    sample_name: str
    sample_type: int
    source: str
    text: str | None = None
    sample_size: int
    width: int | None = None
    height: int | None = None
    row_count: int | None = None
    labels: list[str]
    labeled: bool
    sample_status: Literal["MANUAL_ANNOTATION", "UN_ANNOTATION"]
    usage: str | None
    create_time: datetime
    url: str | None = Field(default=None, description="Presigned GET URL of the object (detail only)")
    content_url: str | None = Field(default=None, description="API path streaming the object")


class SampleDelete(BaseModel):
    samples: list[str] = Field(min_length=1, max_length=10000)
    delete_source: bool = False


class VersionCreate(BaseModel):
    version_name: str | None = Field(default=None, pattern=_VERSION_NAME)
    description: str = Field(default="", max_length=256)
    train_evaluate_sample_ratio: str | float = Field(default="0.8", description="0–1 with 1 to 5 decimals")

    _desc = field_validator("description")(_description)

    @field_validator("train_evaluate_sample_ratio")
    @classmethod
    def _ratio(cls, value: str | float) -> str:
        text = value if isinstance(value, str) else repr(float(value))
        if text in ("0", "1"):
            text += ".0"
        if not _RATIO.match(text):
            raise ValueError("train_evaluate_sample_ratio must be a number from 0 to 1 with 1 to 5 decimals")
        return text


class VersionRead(BaseModel):
    version_id: str
    version_name: str
    dataset_id: str
    description: str
    status: str
    train_evaluate_sample_ratio: str
    manifest_path: str | None
    total_sample_count: int
    train_sample_count: int
    eval_sample_count: int
    labels: list[str]
    statistics: dict[str, Any]
    table_schema: list[dict[str, Any]] | None
    label_column: str | None
    error_msg: str | None
    check_result: dict[str, Any] | None
    create_time: datetime


class CheckReport(BaseModel):
    version_id: str
    passed: bool
    violations: list[CheckViolation]
    checked_at: datetime
