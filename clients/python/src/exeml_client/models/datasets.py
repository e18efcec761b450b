"""Datasets, their import tasks, samples and versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from exeml_client.models._base import APIModel

DatasetTypeName = Literal[
    "image_classification", "object_detection", "text_classification", "sound_classification", "table"
]


class TableColumn(APIModel):
    __schema__ = "dataset_TableColumn"
    name: str
    type: Literal["int", "float", "string", "bool"]
    timestamp: bool = False


class Dataset(APIModel):
    __schema__ = "dataset_DatasetRead"
    dataset_id: str
    dataset_name: str
    dataset_type: Literal[0, 1, 100, 200, 400]
    dataset_type_name: DatasetTypeName
    description: str
    input_path: str
    work_path: str
    label_column: str | None = None
    with_column_header: bool
    table_schema: list[TableColumn] | None = None
    status: int
    sample_count: int = 0
    labeled_sample_count: int = 0
    unlabeled_sample_count: int = 0
    row_count: int | None = None
    create_time: datetime
    update_time: datetime
    import_task_id: str | None = None


class DataSource(APIModel):
    """ModelArts' ``data_sources[]`` item: a folder of the object store (``data_type`` 0)."""

    __schema__ = "dataset_DataSource"
    data_type: Literal[0] = 0
    data_path: str
    with_column_header: bool | None = None


class DatasetCreate(APIModel):
    __schema__ = "dataset_DatasetCreate"
    dataset_name: str
    dataset_type: Literal[0, 1, 100, 200, 400] | None = None
    dataset_type_name: DatasetTypeName | None = None
    description: str = ""
    input_path: str | None = None
    work_path: str | None = None
    label_column: str | None = None
    with_column_header: bool = True
    import_on_create: bool = True
    import_annotations: bool = True
    data_sources: list[DataSource] | None = None
    work_path_type: Literal[0] | None = None


class ImportFileError(APIModel):
    __schema__ = "dataset_ImportFileError"
    file: str
    rule: str
    msg: str
    field: str | None = None
    column: str | None = None


class ImportTask(APIModel):
    __schema__ = "dataset_ImportTaskRead"
    task_id: str
    dataset_id: str
    import_path: str
    import_type: Literal["dir", "manifest"]
    kind: Literal["import", "sync"]
    status: Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED"]
    total_sample_count: int
    processed_sample_count: int
    imported_sample_count: int
    skipped_sample_count: int
    failed_sample_count: int
    annotated_sample_count: int
    errors: list[ImportFileError]
    warnings: list[ImportFileError] = Field(default_factory=list)
    error_msg: str | None = None
    create_time: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ImportTaskCreate(APIModel):
    __schema__ = "dataset_ImportTaskCreate"
    import_path: str | None = None
    import_type: Literal["dir", "manifest"] | None = None
    import_annotations: bool = True


class Sample(APIModel):
    __schema__ = "dataset_SampleRead"
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
    usage: str | None = None
    create_time: datetime
    url: str | None = None
    content_url: str | None = None


class UploadFileResult(APIModel):
    __schema__ = "dataset_UploadFileResult"
    success: bool
    name: str
    info: str


class UploadResult(APIModel):
    __schema__ = "dataset_UploadResult"
    success: bool
    samples: list[Sample]
    results: list[UploadFileResult]
    rejected: list[ImportFileError] = Field(default_factory=list)
    warnings: list[ImportFileError] = Field(default_factory=list)


class CheckViolation(APIModel):
    __schema__ = "dataset_CheckViolation"
    rule: str
    level: Literal["error", "warning"]
    msg: str
    count: int | None = None
    label: str | None = None
    column: str | None = None


class CheckReport(APIModel):
    __schema__ = "dataset_CheckReport"
    version_id: str
    passed: bool
    violations: list[CheckViolation]
    checked_at: datetime


class DatasetVersion(APIModel):
    __schema__ = "dataset_VersionRead"
    version_id: str
    version_name: str
    dataset_id: str
    description: str
    status: Literal["QUEUED", "CREATING", "NORMAL", "FAILED"]
    train_evaluate_sample_ratio: str
    manifest_path: str | None = None
    total_sample_count: int
    train_sample_count: int
    eval_sample_count: int
    labels: list[str]
    statistics: dict[str, Any]
    table_schema: list[TableColumn] | None = None
    label_column: str | None = None
    error_msg: str | None = None
    check_result: CheckReport | None = None
    create_time: datetime
