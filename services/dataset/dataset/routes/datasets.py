"""``/v1/datasets``: datasets, import tasks, synchronisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dataset.datasets import DatasetService, task_read
from dataset.routes import DatasetId, TaskId, WriterDep
from dataset.schemas import (
    PLAIN_TEXT_PATTERN,
    DatasetCreate,
    DatasetList,
    DatasetRead,
    DatasetTypeCode,
    DatasetUpdate,
    ImportTaskCreate,
    ImportTaskList,
    ImportTaskRead,
)
from shared.service import tenant_service
from shared.service.params import Offset, limit_query

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
ServiceDep = Annotated[DatasetService, Depends(tenant_service(DatasetService))]


@router.post("", summary="Create a dataset", status_code=201, response_model=DatasetRead)
async def create_dataset(body: DatasetCreate, service: ServiceDep, _: WriterDep):
    """Create a dataset of one of the five types (``dataset_type`` 0, 1, 100, 200, 400 or ``dataset_type_name``).

    With an ``input_path`` and ``import_on_create`` (default), an import task starts at once; its id is
    ``import_task_id``.
    """
    return await service.create(body)


@router.get("", summary="List datasets", response_model=DatasetList)
async def list_datasets(
    service: ServiceDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 100)] = 10,
    dataset_type: Annotated[DatasetTypeCode | None, Query(description="Only datasets of this type")] = None,
    search_content: Annotated[
        str | None, Query(max_length=100, pattern=PLAIN_TEXT_PATTERN, description="Part of the dataset name")
    ] = None,
) -> DatasetList:
    """List the tenant's datasets (newest first) with their sample counts."""
    page = await service.list(offset=offset, limit=limit, dataset_type=dataset_type, search=search_content)
    return DatasetList(items=page.items, total=page.total)


@router.get("/{dataset_id}", summary="Get a dataset", response_model=DatasetRead)
async def get_dataset(dataset_id: DatasetId, service: ServiceDep):
    """One dataset with its counts (samples, labeled, unlabeled; table rows) and, for tables, the schema."""
    return await service.read(dataset_id)


@router.put("/{dataset_id}", summary="Update a dataset", response_model=DatasetRead)
async def update_dataset(dataset_id: DatasetId, body: DatasetUpdate, service: ServiceDep, _: WriterDep):
    """Rename a dataset, change its description or (tables) its label column."""
    return await service.update(dataset_id, body)


@router.delete("/{dataset_id}", summary="Delete a dataset", status_code=204)
async def delete_dataset(dataset_id: DatasetId, service: ServiceDep, _: WriterDep) -> None:
    """Delete a dataset, its samples, tasks and versions (the source objects stay in storage)."""
    await service.delete(dataset_id)


@router.post(
    "/{dataset_id}/import-tasks",
    summary="Import data into a dataset",
    status_code=201,
    response_model=ImportTaskRead,
)
async def create_import_task(
    dataset_id: DatasetId,
    body: ImportTaskCreate,
    service: ServiceDep,
    _: WriterDep,
):
    """Import a folder (the seeds' layouts) or a ModelArts manifest, asynchronously.

    Follow ``GET .../import-tasks/{task_id}`` for progress and per-file errors (file, rule, message).
    Files already imported are skipped.
    """
    task = await service.start_import(await service.datasets.get(dataset_id), body)
    return task_read(task)


@router.post(
    "/{dataset_id}/sync",
    summary="Synchronise a dataset with its input path",
    status_code=201,
    response_model=ImportTaskRead,
)
async def sync_dataset(dataset_id: DatasetId, service: ServiceDep, _: WriterDep):
    """Pick up the files that appeared under the input path since the last import (no duplicates)."""
    task = await service.start_import(await service.datasets.get(dataset_id), ImportTaskCreate(), kind="sync")
    return task_read(task)


@router.get("/{dataset_id}/import-tasks", summary="List import tasks", response_model=ImportTaskList)
async def list_import_tasks(
    dataset_id: DatasetId,
    service: ServiceDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 100)] = 10,
) -> ImportTaskList:
    """The dataset's import and synchronisation tasks, newest first."""
    page = await service.import_tasks(dataset_id, offset=offset, limit=limit)
    return ImportTaskList(items=[task_read(t) for t in page.items], total=page.total)


@router.get(
    "/{dataset_id}/import-tasks/{task_id}", summary="Get an import task", response_model=ImportTaskRead
)
async def get_import_task(dataset_id: DatasetId, task_id: TaskId, service: ServiceDep):
    """Status and progress of one import task: counts and the per-file errors."""
    return task_read(await service.import_task(dataset_id, task_id))
