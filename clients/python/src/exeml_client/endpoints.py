"""Every operation of the API the clients offer, described once: the sync and the async client run the same
descriptions (:class:`~exeml_client._core.Call`, :class:`~exeml_client._core.Listing`)."""

from __future__ import annotations

from typing import Any, Literal

from exeml_client._core import Call, Listing, route
from exeml_client.models import (
    AnnotationStats,
    BatchConfig,
    BatchLabel,
    BatchService,
    BatchServiceCreate,
    Dataset,
    DatasetCreate,
    DatasetVersion,
    DeployRequest,
    DeploySchedule,
    Execution,
    FlavorCatalog,
    ImportTask,
    ImportTaskCreate,
    Label,
    LabelCreate,
    LabelDeleteResult,
    Model,
    ModelVersion,
    Project,
    ProjectCreate,
    Sample,
    Service,
    TrainingJob,
    TrainingParams,
    UploadResult,
)
from exeml_client.models.datasets import DatasetTypeName
from exeml_client.models.projects import ProjectType

_DATASETS = route("GET", "/v1/datasets", Dataset, paged=True)
_CREATE_DATASET = route("POST", "/v1/datasets", Dataset)
_DATASET = route("GET", "/v1/datasets/{dataset_id}", Dataset)
_DELETE_DATASET = route("DELETE", "/v1/datasets/{dataset_id}")
_IMPORT = route("POST", "/v1/datasets/{dataset_id}/import-tasks", ImportTask)
_IMPORT_TASKS = route("GET", "/v1/datasets/{dataset_id}/import-tasks", ImportTask, paged=True)
_IMPORT_TASK = route("GET", "/v1/datasets/{dataset_id}/import-tasks/{task_id}", ImportTask)
_SYNC = route("POST", "/v1/datasets/{dataset_id}/sync", ImportTask)
_UPLOAD = route("POST", "/v1/datasets/{dataset_id}/samples", UploadResult)
_SAMPLES = route("GET", "/v1/datasets/{dataset_id}/samples", Sample, paged=True)
_VERSIONS = route("GET", "/v1/datasets/{dataset_id}/versions", DatasetVersion, paged=True)
_LABELS = route("GET", "/v1/datasets/{dataset_id}/labels", Label, paged=True)
_CREATE_LABEL = route("POST", "/v1/datasets/{dataset_id}/labels", Label)
_RENAME_LABEL = route("PUT", "/v1/datasets/{dataset_id}/labels/{name}", Label)
_DELETE_LABEL = route("DELETE", "/v1/datasets/{dataset_id}/labels/{name}", LabelDeleteResult)
_STATS = route("GET", "/v1/datasets/{dataset_id}/annotations/stats", AnnotationStats)
_ADD_LABEL = route("POST", "/v1/datasets/{dataset_id}/annotations/add", dict)
_REMOVE_LABEL = route("POST", "/v1/datasets/{dataset_id}/annotations/remove", dict)
_PROJECTS = route("GET", "/v1/projects", Project, paged=True)
_CREATE_PROJECT = route("POST", "/v1/projects", Project)
_PROJECT = route("GET", "/v1/projects/{project_id}", Project)
_FLAVORS = route("GET", "/v1/projects/flavors", FlavorCatalog)
_DELETE_PROJECT = route("DELETE", "/v1/projects/{project_id}")
_EXECUTIONS = route("GET", "/v1/projects/{project_id}/executions", list[Execution])
_NEXT = route("POST", "/v1/projects/{project_id}/workflow/next", Project)
_RETRY = route("POST", "/v1/projects/{project_id}/workflow/retry", Project)
_STOP = route("POST", "/v1/projects/{project_id}/workflow/stop", Project)
_DEPLOY = route("POST", "/v1/projects/{project_id}/workflow/deploy", Project)
_JOB = route("GET", "/v1/training-jobs/{job_id}", TrainingJob)
_MODELS = route("GET", "/v1/models", Model, paged=True)
_MODEL_VERSIONS = route("GET", "/v1/models/{model_id}/versions", ModelVersion, paged=True)
_MODEL_VERSION = route("GET", "/v1/models/{model_id}/versions/{version}", ModelVersion)
EXPORT = route("GET", "/v1/models/{model_id}/versions/{version}/export", bytes)
_SERVICES = route("GET", "/v1/services", Service, paged=True)
_SERVICE = route("GET", "/v1/services/{service_id}", Service)
_UPDATE_SERVICE = route("PUT", "/v1/services/{service_id}", Service)
_BATCH_SERVICES = route("GET", "/v1/batch-services", BatchService, paged=True)
_CREATE_BATCH_SERVICE = route("POST", "/v1/batch-services", BatchService)
_BATCH_SERVICE = route("GET", "/v1/batch-services/{service_id}", BatchService)
_UPDATE_BATCH_SERVICE = route("PUT", "/v1/batch-services/{service_id}", BatchService)
_DELETE_BATCH_SERVICE = route("DELETE", "/v1/batch-services/{service_id}")
PREDICT = route("POST", "/v1/infers/{service_id}", dict)
EVENTS = route("GET", "/v1/events")


def _body(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


# -- datasets -------------------------------------------------------------------------------------------------
def list_datasets(search: str | None = None, *, page_size: int = 100) -> Listing[Dataset]:
    return Listing(_DATASETS, params={"search_content": search}, page_size=page_size)


def create_dataset(
    name: str,
    dataset_type: DatasetTypeName,
    *,
    description: str = "",
    input_path: str | None = None,
    work_path: str | None = None,
    label_column: str | None = None,
    with_column_header: bool = True,
) -> Call[Dataset]:
    """A dataset; with ``input_path`` (``s3://bucket/folder/``) its files are imported at once."""
    body = DatasetCreate(
        dataset_name=name,
        dataset_type_name=dataset_type,
        description=description,
        input_path=input_path,
        work_path=work_path,
        label_column=label_column,
        with_column_header=with_column_header,
    )
    return Call(_CREATE_DATASET, json=_body(body))


def get_dataset(dataset_id: str) -> Call[Dataset]:
    return Call(_DATASET, {"dataset_id": dataset_id})


def delete_dataset(dataset_id: str) -> Call[None]:
    return Call(_DELETE_DATASET, {"dataset_id": dataset_id})


def import_files(dataset_id: str, import_path: str, *, manifest: bool = False) -> Call[ImportTask]:
    """Import a folder (or a ModelArts manifest) of object storage into the dataset."""
    body = ImportTaskCreate(import_path=import_path, import_type="manifest" if manifest else "dir")
    return Call(_IMPORT, {"dataset_id": dataset_id}, json=_body(body))


def list_import_tasks(dataset_id: str) -> Listing[ImportTask]:
    return Listing(_IMPORT_TASKS, {"dataset_id": dataset_id})


def get_import_task(dataset_id: str, task_id: str) -> Call[ImportTask]:
    return Call(_IMPORT_TASK, {"dataset_id": dataset_id, "task_id": task_id})


def sync_dataset(dataset_id: str) -> Call[ImportTask]:
    """Pick up what changed in the dataset's input path since the last import."""
    return Call(_SYNC, {"dataset_id": dataset_id})


def upload_samples(dataset_id: str, files: list[tuple[str, bytes, str]]) -> Call[UploadResult]:
    """Upload ``(name, content, media type)`` files in one request: the valid ones are stored, the answer's
    ``rejected`` names the others (207); a 4xx when none is stored names every file."""
    return Call(_UPLOAD, {"dataset_id": dataset_id}, files=[("files", f) for f in files])


def list_samples(
    dataset_id: str,
    *,
    labeled: bool | None = None,
    label_name: str | None = None,
    usage: Literal["TRAIN", "EVAL"] | None = None,
    search: str | None = None,
    page_size: int = 100,
) -> Listing[Sample]:
    params = {"labeled": labeled, "label_name": label_name, "usage": usage, "search": search}
    return Listing(_SAMPLES, {"dataset_id": dataset_id}, params, page_size)


def list_versions(dataset_id: str) -> Listing[DatasetVersion]:
    return Listing(_VERSIONS, {"dataset_id": dataset_id}, page_size=100)


# -- labels ---------------------------------------------------------------------------------------------------
def list_labels(dataset_id: str) -> Listing[Label]:
    return Listing(_LABELS, {"dataset_id": dataset_id})


def create_label(
    dataset_id: str, name: str, *, color: str | None = None, shortcut: str | None = None
) -> Call[Label]:
    body = LabelCreate(name=name, color=color, shortcut=shortcut)
    return Call(_CREATE_LABEL, {"dataset_id": dataset_id}, json=_body(body))


def rename_label(dataset_id: str, name: str, new_name: str) -> Call[Label]:
    return Call(_RENAME_LABEL, {"dataset_id": dataset_id, "name": name}, json={"name": new_name})


def delete_label(
    dataset_id: str, name: str, *, delete_policy: Literal[0, 1, 2] = 0
) -> Call[LabelDeleteResult]:
    """0: only the label; 1: the label and its samples' annotations of it; 2: also the samples."""
    return Call(_DELETE_LABEL, {"dataset_id": dataset_id, "name": name}, {"delete_policy": delete_policy})


def label_stats(dataset_id: str) -> Call[AnnotationStats]:
    return Call(_STATS, {"dataset_id": dataset_id})


def add_label(dataset_id: str, name: str, sample_ids: list[str]) -> Call[dict[str, Any]]:
    """Give ``name`` to these samples (harmless to send twice)."""
    return Call(
        _ADD_LABEL,
        {"dataset_id": dataset_id},
        json=_body(BatchLabel(sample_ids=sample_ids, name=name)),
        idempotent=True,
    )


def remove_label(dataset_id: str, name: str, sample_ids: list[str]) -> Call[dict[str, Any]]:
    return Call(
        _REMOVE_LABEL,
        {"dataset_id": dataset_id},
        json=_body(BatchLabel(sample_ids=sample_ids, name=name)),
        idempotent=True,
    )


# -- projects -------------------------------------------------------------------------------------------------
def list_projects(search: str | None = None) -> Listing[Project]:
    return Listing(_PROJECTS, params={"search": search})


def create_project(
    name: str,
    project_type: ProjectType,
    dataset_id: str,
    *,
    description: str = "",
    training_minutes: int = 60,
    label_column: str | None = None,
    label_type: Literal["discrete", "continuous"] | None = None,
    flavor: str = "cpu",
    **training: Any,
) -> Call[Project]:
    """An ExeML project on a dataset; ``flavor`` is ``cpu``, ``gpu`` or the guide's name (see
    :func:`list_flavors`); ``training`` takes the other :class:`TrainingParams` fields."""
    params = TrainingParams(max_training_duration=training_minutes, **training)
    body = ProjectCreate(
        name=name,
        project_type=project_type,
        dataset_id=dataset_id,
        description=description,
        training_params=params,
        label_column=label_column,
        label_type=label_type,
        flavor=flavor,
    )
    return Call(_CREATE_PROJECT, json=_body(body))


def list_flavors(project_type: ProjectType) -> Call[FlavorCatalog]:
    """Training flavors and deployment specifications a project type may name, with their availability here."""
    return Call(_FLAVORS, params={"project_type": project_type})


def get_project(project_id: str) -> Call[Project]:
    return Call(_PROJECT, {"project_id": project_id})


def delete_project(project_id: str) -> Call[None]:
    return Call(_DELETE_PROJECT, {"project_id": project_id})


def list_executions(project_id: str) -> Call[list[Execution]]:
    return Call(_EXECUTIONS, {"project_id": project_id})


def next_phase(project_id: str) -> Call[Project]:
    """ "Next" of the console: leave Label Data (or Deploy Service) for the following phases."""
    return Call(_NEXT, {"project_id": project_id})


def retry_phase(project_id: str) -> Call[Project]:
    return Call(_RETRY, {"project_id": project_id})


def stop_phase(project_id: str) -> Call[Project]:
    return Call(_STOP, {"project_id": project_id})


def deploy(
    project_id: str,
    *,
    specification: str = "cpu",
    instance_count: int = 1,
    auto_stop_hours: int | None = None,
    auto_stop: bool = True,
    service_name: str | None = None,
) -> Call[Project]:
    """Deploy the round's model as a real-time service: auto stop after ``auto_stop_hours`` if given (else the
    service's default, 1 hour for a new one); ``auto_stop=False``: the service runs until it is stopped."""
    schedule = [DeploySchedule(duration=auto_stop_hours)] if auto_stop_hours else None
    body = DeployRequest(
        specification=specification,
        instance_count=instance_count,
        schedule=schedule,
        auto_stop=auto_stop,
        service_name=service_name,
    )
    return Call(_DEPLOY, {"project_id": project_id}, json=_body(body))


def get_training_job(job_id: str) -> Call[TrainingJob]:
    return Call(_JOB, {"job_id": job_id})


# -- models and services --------------------------------------------------------------------------------------
def list_models(name: str | None = None) -> Listing[Model]:
    return Listing(_MODELS, params={"model_name": name})


def list_model_versions(model_id: str) -> Listing[ModelVersion]:
    return Listing(_MODEL_VERSIONS, {"model_id": model_id})


def get_model_version(model_id: str, version: str) -> Call[ModelVersion]:
    return Call(_MODEL_VERSION, {"model_id": model_id, "version": version})


def list_services(status: str | None = None) -> Listing[Service]:
    return Listing(_SERVICES, params={"status": status})


def get_service(service_id: str) -> Call[Service]:
    return Call(_SERVICE, {"service_id": service_id})


def set_service_status(service_id: str, status: Literal["running", "stopped"]) -> Call[Service]:
    """Start (``running``) or stop a service."""
    return Call(_UPDATE_SERVICE, {"service_id": service_id}, json={"status": status})


def set_service_weights(service: Service, weights: dict[str, int]) -> Call[Service]:
    """Split the traffic between versions of the service's AI application (``{"0.0.1": 80, "0.0.2": 20}``,
    summing to 100); a version it does not serve yet is added on the first one's specification."""
    first = (service.config or service.pending_config or [])[0]
    served = {c.model_version: c for c in service.config}
    config = [
        {
            "model_id": first.model_id,
            "model_version": version,
            "weight": weight,
            "specification": served.get(version, first).specification,
            "instance_count": served.get(version, first).instance_count,
        }
        for version, weight in weights.items()
    ]
    return Call(_UPDATE_SERVICE, {"service_id": service.service_id}, json={"config": config})


# -- batch services -------------------------------------------------------------------------------------------
def list_batch_services(name: str | None = None, status: str | None = None) -> Listing[BatchService]:
    return Listing(_BATCH_SERVICES, params={"service_name": name, "status": status})


def create_batch_service(
    name: str,
    model_id: str,
    model_version: str,
    src_path: str,
    dest_path: str,
    *,
    description: str = "",
    specification: str = "modelarts.vm.cpu.2u",
    instance_count: int = 1,
) -> Call[BatchService]:
    """Answer every input under ``src_path`` (images, WAVs, text lines or CSV rows, by the model's task type)
    with a model version; the answers go to ``dest_path`` as results.jsonl (and results.csv for tables)."""
    config = BatchConfig(
        model_id=model_id,
        model_version=model_version,
        specification=specification,
        instance_count=instance_count,
        src_path=src_path,
        dest_path=dest_path,
    )
    body = BatchServiceCreate(service_name=name, description=description, config=[config])
    return Call(_CREATE_BATCH_SERVICE, json=_body(body))


def get_batch_service(service_id: str) -> Call[BatchService]:
    return Call(_BATCH_SERVICE, {"service_id": service_id})


def stop_batch_service(service_id: str) -> Call[BatchService]:
    """Stop after the chunk in hand; the answers written so far stay in the result files."""
    return Call(_UPDATE_BATCH_SERVICE, {"service_id": service_id}, json={"status": "stopped"})


def delete_batch_service(service_id: str) -> Call[None]:
    return Call(_DELETE_BATCH_SERVICE, {"service_id": service_id})
