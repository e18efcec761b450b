"""Request and response bodies of the dataset API (ModelArts field names where ModelArts has them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from dataset.types import KINDS, kind_of
from shared.events.dataset import CheckViolation
from shared.naming import ID_PATTERN, PLAIN_TEXT_PATTERN, VERSION_NAME_PATTERN
from shared.storage.tenancy import bucket_path_as_uri

_NAME = r"^[A-Za-z0-9_-]{1,100}$"
# Descriptions: no ^ ! < > = & " ' (ModelArts) and no control characters.
DESCRIPTION_PATTERN = r"^[^\x00-\x1f\x7f^!<>=&\"']*$"
# Free text stored as is (a column name, a search): no control characters.
# Resource ids: 32 hex characters here; ModelArts' ids are letters and digits.
_RATIO = re.compile(r"^(0(\.\d{1,5})?|1(\.0{1,5})?)$")

DatasetTypeCode = Literal[0, 1, 100, 200, 400]
DatasetTypeName = Literal[
    "image_classification", "object_detection", "text_classification", "sound_classification", "table"
]
_TIME = "2026-11-23T10:15:00Z"
_DATASET_ID = "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e"
_TASK_ID = "8b1d4f6a2c3e4a5b9c7d0e1f2a3b4c5d"
_VERSION_ID = "5e7a9c1b3d2f4e6a8b0c1d2e3f4a5b6c"
_SAMPLE_ID = "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f"
_SAMPLE_ID_2 = "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d"


def _s3_path(value: str | None) -> str | None:
    """A folder gets its trailing '/' and ModelArts' ``/bucket/key/`` reads as ``s3://bucket/key/``; a
    ``.manifest`` or ``.csv`` path names that one file (the guide's table path ``/obs-xxx/data/input.csv``).
    The service checks the path (shared.storage.tenancy: 400 or 403)."""
    if value is None:
        return None
    value = bucket_path_as_uri(value)
    return value if value.endswith("/") or value.lower().endswith((".manifest", ".csv")) else value + "/"


class DataSource(BaseModel):
    """Where a dataset's data comes from, as ModelArts' create body names it (``data_sources[0]``): a folder of
    the object store. The other ModelArts source types (DWS, DLI, RDS, MRS, AI Gallery, inference service) do
    not exist here and are refused."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"data_type": 0, "data_path": "/exeml/tenants/default/flowers/input/"}]
        }
    )

    data_type: Literal[0] = Field(
        default=0, description="0: object storage (ModelArts' OBS), the only kind here"
    )
    data_path: str = Field(
        max_length=1000,
        description="The folder: ``s3://bucket/key/``, ``obs://bucket/key/`` or ModelArts' ``/bucket/key/``",
    )
    with_column_header: StrictBool | None = Field(
        default=None, description="Tables: the CSV files start with a header line (default true)"
    )

    _path = field_validator("data_path")(_s3_path)


class DatasetCreate(BaseModel):
    """A new dataset: a name and a type (``dataset_type`` or ``dataset_type_name``); paths default to the
    platform's own storage area. ModelArts' body is understood too: ``data_sources[0].data_path`` is the input
    path, paths may be written ``/bucket/key/``, e.g. ``{"dataset_name": "animals", "dataset_type": 1,
    "data_sources": [{"data_type": 0, "data_path": "/exeml/tenants/default/animals/input/"}],
    "work_path": "/exeml/tenants/default/animals/output/", "work_path_type": 0}``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_name": "flowers",
                    "dataset_type": 0,
                    "description": "Five kinds of flowers",
                    "input_path": "s3://exeml/tenants/default/flowers/input/",
                    "work_path": "s3://exeml/tenants/default/flowers/output/",
                    "import_on_create": True,
                    "import_annotations": True,
                }
            ]
        }
    )

    dataset_name: str = Field(
        pattern=_NAME, description="1–100 letters, digits, '-', '_'; unique in the tenant"
    )
    dataset_type: DatasetTypeCode | None = Field(
        default=None,
        description="ModelArts code: 0 image classification, 1 object detection, 100 text "
        "classification, 200 sound classification, 400 table",
    )
    dataset_type_name: DatasetTypeName | None = Field(
        default=None, description="Readable type (instead of the code)"
    )
    description: str = Field(
        default="",
        max_length=256,
        pattern=DESCRIPTION_PATTERN,
        description="At most 256 characters, none of ^ ! < > = & \" '",
    )
    input_path: str | None = Field(
        default=None,
        max_length=1000,
        description="The folder the data comes from: ``s3://bucket/key/``, ``obs://bucket/key/`` or ModelArts' "
        "``/bucket/key/``; a table may name its one CSV file (``…/data/input.csv``), never a bucket's root",
    )
    work_path: str | None = Field(
        default=None,
        max_length=1000,
        description="s3:// prefix published versions are written to (or ModelArts' /bucket/key/)",
    )
    label_column: str | None = Field(
        default=None,
        max_length=256,
        pattern=PLAIN_TEXT_PATTERN,
        description="Tables: the label column (default: last)",
    )
    with_column_header: StrictBool = Field(
        default=True, description="Tables: the CSV files start with a header line"
    )
    import_on_create: StrictBool = Field(default=True, description="Start importing the input path at once")
    import_annotations: StrictBool = Field(
        default=True, description="Import the annotations found next to the files"
    )
    data_sources: list[DataSource] | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="ModelArts' form of ``input_path`` (and, for tables, of ``with_column_header``): one source; "
        "give it or ``input_path``, not both",
    )
    work_path_type: Literal[0] | None = Field(
        default=None, description="ModelArts: 0, the work path is in object storage (the only kind here)"
    )

    _paths = field_validator("input_path", "work_path")(_s3_path)

    @field_validator("dataset_type", mode="before")
    @classmethod
    def _code_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON false/true are not the codes 0/1
            raise ValueError(  # noqa: TRY004  # pydantic turns a ValueError into the 400 naming the field
                "dataset_type is a number: 0, 1, 100, 200 or 400"
            )
        return value

    @model_validator(mode="after")
    def _type_known(self) -> DatasetCreate:
        kind = (
            kind_of(self.dataset_type, None)
            if self.dataset_type is not None
            else kind_of(None, self.dataset_type_name)
        )
        if kind is None:
            names = ", ".join(f"{k.code} ({k.name})" for k in KINDS.values())
            raise ValueError(f"dataset_type/dataset_type_name must be one of {names}")
        if self.dataset_type_name is not None and self.dataset_type_name != kind.name:
            raise ValueError(f"dataset_type {kind.code} is {kind.name}, not {self.dataset_type_name}")
        self.dataset_type = cast(DatasetTypeCode, kind.code)  # a KINDS code: one of the literals
        return self


class DatasetUpdate(BaseModel):
    """The fields to change; the others stay."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"dataset_name": "flowers-2026", "description": "Five kinds of flowers, relabeled"}]
        }
    )

    dataset_name: str | None = Field(default=None, pattern=_NAME)
    description: str | None = Field(default=None, max_length=256, pattern=DESCRIPTION_PATTERN)
    label_column: str | None = Field(
        default=None, max_length=256, pattern=PLAIN_TEXT_PATTERN, description="Tables: the label column"
    )
    input_path: str | None = Field(
        default=None,
        max_length=1000,
        description="New s3:// folder for imports, synchronisation and uploads (samples "
        "already imported stay)",
    )
    work_path: str | None = Field(
        default=None, max_length=1000, description="New s3:// folder the next versions are written to"
    )

    _paths = field_validator("input_path", "work_path")(_s3_path)


class TableColumn(BaseModel):
    name: str = Field(examples=["income"])
    type: Literal["int", "float", "string", "bool"] = Field(examples=["float"])
    timestamp: bool = Field(default=False, description="The column holds dates or times")


_DATASET_EXAMPLE: dict[str, Any] = {
    "dataset_id": _DATASET_ID,
    "dataset_name": "flowers",
    "dataset_type": 0,
    "dataset_type_name": "image_classification",
    "description": "Five kinds of flowers",
    "input_path": "s3://exeml/tenants/default/flowers/input/",
    "work_path": "s3://exeml/tenants/default/flowers/output/",
    "label_column": None,
    "with_column_header": True,
    "table_schema": None,
    "status": 1,
    "sample_count": 120,
    "labeled_sample_count": 100,
    "unlabeled_sample_count": 20,
    "row_count": None,
    "create_time": _TIME,
    "update_time": "2026-11-23T10:20:00Z",
    "import_task_id": None,
}


class DatasetRead(BaseModel):
    """A dataset with its counts (ModelArts field names)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DATASET_EXAMPLE]})

    dataset_id: str
    dataset_name: str
    dataset_type: DatasetTypeCode
    dataset_type_name: DatasetTypeName
    description: str
    input_path: str
    work_path: str
    label_column: str | None = None
    with_column_header: bool
    table_schema: list[TableColumn] | None = Field(default=None, description="Tables: the columns, in order")
    status: int = Field(description="ModelArts status: 1 normal, 6 publishing a version, 8 importing")
    sample_count: int = 0
    labeled_sample_count: int = 0
    unlabeled_sample_count: int = 0
    row_count: int | None = Field(default=None, description="Tables: the number of rows")
    create_time: datetime
    update_time: datetime
    import_task_id: str | None = Field(default=None, description="Create: the import task started at once")


class DatasetList(BaseModel):
    items: list[DatasetRead]
    total: int = Field(description="Datasets matching the filters", examples=[1])


class ImportTaskCreate(BaseModel):
    """Where to import from; everything defaults (the dataset's input path, by its ending)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "import_path": "s3://exeml/tenants/default/flowers/more/",
                    "import_type": "dir",
                    "import_annotations": True,
                }
            ]
        }
    )

    import_path: str | None = Field(
        default=None,
        max_length=1000,
        description="s3:// (or obs://) folder, .manifest file or one .csv file (default: input path)",
    )
    import_type: Literal["dir", "manifest"] | None = Field(
        default=None, description="Default: by the path's ending"
    )
    import_annotations: StrictBool = True

    _path = field_validator("import_path")(_s3_path)


class ImportFileError(BaseModel):
    """One file's problem: the rule it breaks (and, for a table rule, the column)."""

    file: str = Field(examples=["daisy/broken.jpg"])
    rule: str = Field(examples=["image_decode"])
    msg: str = Field(examples=["not a readable JPG/PNG/BMP image: cannot identify image file"])
    field: str | None = Field(
        None, examples=["filename"], description="The part of the file at fault, when the rule names one"
    )
    column: str | None = Field(default=None, description="The table column the rule is about")


_TABLE_WARNING: dict[str, Any] = {
    "file": "part1.csv",
    "rule": "timestamp_column",
    "msg": "column seen_at holds timestamps; remove it",
    "column": "seen_at",
}
_WARNINGS_DESCRIPTION = (
    "Per-file problems that did not reject the file: a table part's breaches of the version check's rules "
    "(min_rows: the table so far has fewer than 100 rows; timestamp_column; label_values: the label column "
    "has one value in this file). They are reported again, as errors, by the check of a version."
)
_UPLOAD_WARNINGS_DESCRIPTION = _WARNINGS_DESCRIPTION + (
    " VOC boxes that are inverted or leave their image (voc_box_inverted, voc_box_outside): the image is "
    "stored, unlabeled."
)


class ImportTaskRead(BaseModel):
    """An import or synchronisation task: status, counts and the per-file errors."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "task_id": _TASK_ID,
                    "dataset_id": _DATASET_ID,
                    "import_path": "s3://exeml/tenants/default/flowers/input/",
                    "import_type": "dir",
                    "kind": "import",
                    "status": "COMPLETED",
                    "total_sample_count": 121,
                    "processed_sample_count": 121,
                    "imported_sample_count": 120,
                    "skipped_sample_count": 0,
                    "failed_sample_count": 1,
                    "annotated_sample_count": 100,
                    "errors": [
                        {
                            "file": "daisy/broken.jpg",
                            "rule": "image_decode",
                            "msg": "not a readable JPG/PNG/BMP image: cannot identify image file",
                        }
                    ],
                    "warnings": [],
                    "error_msg": None,
                    "create_time": _TIME,
                    "started_at": "2026-11-23T10:15:01Z",
                    "finished_at": "2026-11-23T10:15:09Z",
                }
            ]
        }
    )

    task_id: str
    dataset_id: str
    import_path: str
    import_type: Literal["dir", "manifest"]
    kind: Literal["import", "sync"]
    status: Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED"]
    total_sample_count: int
    processed_sample_count: int
    imported_sample_count: int
    skipped_sample_count: int = Field(
        description="Already imported, or the file of a deleted sample (deleted samples stay deleted)"
    )
    failed_sample_count: int
    annotated_sample_count: int
    errors: list[ImportFileError] = Field(description="Per-file errors (the first ones)")
    warnings: list[ImportFileError] = Field(
        default_factory=list, description=_WARNINGS_DESCRIPTION + " The first ones."
    )
    error_msg: str | None = Field(default=None, description="Why the whole task failed")
    create_time: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ImportTaskList(BaseModel):
    items: list[ImportTaskRead]
    total: int = Field(examples=[1])


_SAMPLE_EXAMPLE: dict[str, Any] = {
    "sample_id": _SAMPLE_ID,
    "sample_name": "daisy/daisy_001.jpg",
    "sample_type": 0,
    "source": "s3://exeml/tenants/default/flowers/input/daisy/daisy_001.jpg",
    "text": None,
    "sample_size": 48213,
    "width": 500,
    "height": 375,
    "row_count": None,
    "labels": ["daisy"],
    "labeled": True,
    "sample_status": "MANUAL_ANNOTATION",
    "usage": None,
    "create_time": _TIME,
    "url": None,
    "content_url": f"/v1/datasets/{_DATASET_ID}/samples/{_SAMPLE_ID}/content",
}


class SampleRead(BaseModel):
    """A sample: its file (or text line), size, labels and state."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SAMPLE_EXAMPLE]})

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
    usage: str | None = Field(default=None, description="TRAIN or EVAL once a published version used it")
    create_time: datetime
    url: str | None = Field(default=None, description="Presigned GET URL of the object (detail only)")
    content_url: str | None = Field(default=None, description="API path streaming the object")


class SampleList(BaseModel):
    items: list[SampleRead]
    total: int = Field(description="Samples matching the filters", examples=[1])


class UploadFileResult(BaseModel):
    success: bool = Field(examples=[True])
    name: str = Field(description="The sample's name", examples=["daisy/daisy_001.jpg"])
    info: str = Field(description="The new sample's id", examples=[_SAMPLE_ID])


_REJECTED_DESCRIPTION = (
    "The files not stored, each with the rule it breaks (201: none). A file that goes with a rejected one "
    "(an image and its label file, a text file and its _result.txt) is not stored either: pair_rejected."
)
_REJECTED_EXAMPLE: list[dict[str, Any]] = [
    {
        "file": "daisy/broken.jpg",
        "rule": "image_decode",
        "msg": "not a readable JPG/PNG/BMP image: cannot identify image file",
    },
    {
        "file": "daisy/broken.txt",
        "rule": "pair_rejected",
        "msg": "not stored: it goes with daisy/broken.jpg, which was rejected (image_decode)",
    },
]


class UploadResult(BaseModel):
    """The stored samples, per stored sample (ModelArts style) its id, the files rejected and the warnings.

    ``success`` is true when every file was stored (201); false when some were rejected (207)."""

    success: bool = Field(examples=[True])
    samples: list[SampleRead]
    results: list[UploadFileResult]
    # The 201 answer's example: nothing rejected (the 207 answer has its own, UPLOAD_PARTIAL_EXAMPLE).
    rejected: list[ImportFileError] = Field(
        default_factory=list, description=_REJECTED_DESCRIPTION, examples=[[]]
    )
    warnings: list[ImportFileError] = Field(
        default_factory=list, description=_UPLOAD_WARNINGS_DESCRIPTION, examples=[[_TABLE_WARNING]]
    )


UPLOAD_PARTIAL_EXAMPLE: dict[str, Any] = {
    "success": False,
    "samples": [_SAMPLE_EXAMPLE],
    "results": [{"success": True, "name": "daisy/daisy_001.jpg", "info": _SAMPLE_ID}],
    "rejected": _REJECTED_EXAMPLE,
    "warnings": [],
}


class SampleDelete(BaseModel):
    """The samples to delete; ``delete_source`` removes their objects from storage too."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"samples": [_SAMPLE_ID, _SAMPLE_ID_2], "delete_source": False}]}
    )

    samples: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(min_length=1, max_length=10000)
    delete_source: StrictBool = False


class SampleDeleteItem(BaseModel):
    sample_id: str
    success: bool
    error_code: str | None = Field(default=None, description="Why this sample was not deleted")
    error_msg: str | None = None


class SampleDeleteResult(BaseModel):
    """Per sample whether it was deleted (ModelArts.4420: no such sample)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "success": False,
                    "deleted": 1,
                    "results": [
                        {"sample_id": _SAMPLE_ID, "success": True},
                        {
                            "sample_id": _SAMPLE_ID_2,
                            "success": False,
                            "error_code": "ModelArts.4420",
                            "error_msg": "sample does not exist",
                        },
                    ],
                }
            ]
        }
    )

    success: bool = Field(description="Every listed sample was deleted")
    deleted: int
    results: list[SampleDeleteItem]


_Ratio = Annotated[str, Field(pattern=_RATIO.pattern)] | Annotated[float, Field(ge=0, le=1)]


class VersionCreate(BaseModel):
    """Publish a version; every field has a default (V001, V002…, ratio 0.8)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version_name": "V001",
                    "description": "First training round",
                    "train_evaluate_sample_ratio": "0.8",
                }
            ]
        }
    )

    version_name: str | None = Field(default=None, pattern=VERSION_NAME_PATTERN)
    description: str = Field(default="", max_length=256, pattern=DESCRIPTION_PATTERN)
    train_evaluate_sample_ratio: _Ratio = Field(
        default="0.8", description="The TRAIN share: 0–1 with at most 5 decimals (a string or a number)"
    )

    @field_validator("train_evaluate_sample_ratio")
    @classmethod
    def _ratio(cls, value: str | float) -> str:
        text = value if isinstance(value, str) else repr(float(value))
        if text in ("0", "1"):
            text += ".0"
        if not _RATIO.match(text):
            raise ValueError("train_evaluate_sample_ratio must be a number from 0 to 1 with 1 to 5 decimals")
        return text


_CHECK_EXAMPLE: dict[str, Any] = {
    "version_id": _VERSION_ID,
    "passed": True,
    "checked_at": "2026-11-23T10:30:00Z",
    "violations": [
        {
            "rule": "few_samples_per_class",
            "level": "warning",
            "msg": "label tulip has 15 samples; 20 or more give better models",
            "count": 15,
            "label": "tulip",
            "column": None,
        }
    ],
}


class CheckReport(BaseModel):
    """The version checked against the rules of its type: ``passed`` unless a violation is an error."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CHECK_EXAMPLE]})

    version_id: str
    passed: bool
    violations: list[CheckViolation]
    checked_at: datetime


class VersionRead(BaseModel):
    """A published (or publishing) version: status, manifest, counts per usage and label."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version_id": _VERSION_ID,
                    "version_name": "V001",
                    "dataset_id": _DATASET_ID,
                    "description": "First training round",
                    "status": "NORMAL",
                    "train_evaluate_sample_ratio": "0.8",
                    "manifest_path": "s3://exeml/tenants/default/flowers/output/V001/V001.manifest",
                    "total_sample_count": 100,
                    "train_sample_count": 80,
                    "eval_sample_count": 20,
                    "labels": ["daisy", "rose", "tulip"],
                    "statistics": {
                        "labels": {
                            "daisy": {"sample_count": 45, "object_count": 45, "train": 36, "eval": 9},
                            "rose": {"sample_count": 40, "object_count": 40, "train": 32, "eval": 8},
                            "tulip": {"sample_count": 15, "object_count": 15, "train": 12, "eval": 3},
                        },
                        "usage": {"TRAIN": 80, "EVAL": 20},
                        "total_sample_count": 100,
                        "unlabeled_count": 20,
                        "multi_label_count": 0,
                        "label_type": "single",
                    },
                    "table_schema": None,
                    "label_column": None,
                    "error_msg": None,
                    "check_result": _CHECK_EXAMPLE,
                    "create_time": _TIME,
                }
            ]
        }
    )

    version_id: str
    version_name: str
    dataset_id: str
    description: str
    status: Literal["QUEUED", "CREATING", "NORMAL", "FAILED"] = Field(description="NORMAL once published")
    train_evaluate_sample_ratio: str
    manifest_path: str | None = None
    total_sample_count: int
    train_sample_count: int
    eval_sample_count: int
    labels: list[str]
    statistics: dict[str, Any] = Field(
        description="Per label and usage counts (sound: seconds of audio per label; tables: per column, rows "
        "and distinct records)"
    )
    table_schema: list[TableColumn] | None = None
    label_column: str | None = None
    error_msg: str | None = None
    check_result: CheckReport | None = Field(default=None, description="The last check (POST .../check)")
    create_time: datetime


class VersionList(BaseModel):
    items: list[VersionRead]
    total: int = Field(examples=[1])
