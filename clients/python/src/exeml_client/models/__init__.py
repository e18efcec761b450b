"""Typed models of the API's resources and request bodies (see :mod:`exeml_client.models._base`)."""

from exeml_client.models._base import APIModel, Page
from exeml_client.models.datasets import (
    CheckReport,
    CheckViolation,
    Dataset,
    DatasetCreate,
    DatasetVersion,
    DataSource,
    ImportFileError,
    ImportTask,
    ImportTaskCreate,
    Sample,
    TableColumn,
    UploadFileResult,
    UploadResult,
)
from exeml_client.models.labels import (
    AnnotationStats,
    BatchLabel,
    Label,
    LabelAttribute,
    LabelCreate,
    LabelDeleteResult,
    LabelStat,
    SampleStats,
)
from exeml_client.models.projects import (
    DeployConfigEntry,
    DeployRequest,
    DeploySchedule,
    Execution,
    Flavor,
    FlavorCatalog,
    InstanceRef,
    Phase,
    Project,
    ProjectCreate,
    TrainingParams,
)
from exeml_client.models.serving import (
    Baseline,
    DeleteResult,
    Model,
    ModelVersion,
    Quality,
    Schedule,
    ServedConfig,
    Service,
    TrainingJob,
)

__all__ = [
    "MODELS",
    "APIModel",
    "AnnotationStats",
    "Baseline",
    "BatchLabel",
    "CheckReport",
    "CheckViolation",
    "DataSource",
    "Dataset",
    "DatasetCreate",
    "DatasetVersion",
    "DeleteResult",
    "DeployConfigEntry",
    "DeployRequest",
    "DeploySchedule",
    "Execution",
    "Flavor",
    "FlavorCatalog",
    "ImportFileError",
    "ImportTask",
    "ImportTaskCreate",
    "InstanceRef",
    "Label",
    "LabelAttribute",
    "LabelCreate",
    "LabelDeleteResult",
    "LabelStat",
    "Model",
    "ModelVersion",
    "Page",
    "Phase",
    "Project",
    "ProjectCreate",
    "Quality",
    "Sample",
    "SampleStats",
    "Schedule",
    "ServedConfig",
    "Service",
    "TableColumn",
    "TrainingJob",
    "TrainingParams",
    "UploadFileResult",
    "UploadResult",
]

# Every model that mirrors a schema of /openapi.json (the drift test walks them).
MODELS: list[type[APIModel]] = [
    globals()[name]
    for name in __all__
    if isinstance(globals().get(name), type) and issubclass(globals()[name], APIModel) and name != "APIModel"
]
