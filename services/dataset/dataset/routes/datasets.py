"""``/v1/datasets``: datasets, import tasks, synchronisation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from dataset.datasets import DatasetService, task_read
from dataset.routes import WriterDep
from dataset.schemas import DatasetCreate, DatasetRead, DatasetUpdate, ImportTaskCreate, ImportTaskRead
from shared.auth import PrincipalDep
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


@router.post("", status_code=201, response_model=DatasetRead)
async def create_dataset(body: DatasetCreate, session: SessionDep, runtime: RuntimeDep, principal: WriterDep):
    """Create a dataset of one of the five types (``dataset_type`` 0, 1, 100, 200, 400 or ``dataset_type_name``).

    With an ``input_path`` and ``import_on_create`` (default), an import task starts at once; its id is
    ``import_task_id``.
    """
    return await DatasetService(session, runtime, principal.tenant_id).create(body)


@router.get("")
async def list_datasets(
    session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep,
    offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100),
    dataset_type: int | None = None, search_content: str | None = Query(None, max_length=100),
) -> dict[str, Any]:
    """List the tenant's datasets (newest first) with their sample counts."""
    page = await DatasetService(session, runtime, principal.tenant_id).list(
        offset=offset, limit=limit, dataset_type=dataset_type, search=search_content)
    return {"items": page.items, "total": page.total}


@router.get("/{dataset_id}", response_model=DatasetRead)
async def get_dataset(dataset_id: str, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep):
    """One dataset with its counts (samples, labeled, unlabeled; table rows) and, for tables, the schema."""
    return await DatasetService(session, runtime, principal.tenant_id).read(dataset_id)


@router.put("/{dataset_id}", response_model=DatasetRead)
async def update_dataset(dataset_id: str, body: DatasetUpdate, session: SessionDep, runtime: RuntimeDep,
                         principal: WriterDep):
    """Rename a dataset, change its description or (tables) its label column."""
    return await DatasetService(session, runtime, principal.tenant_id).update(dataset_id, body)


@router.delete("/{dataset_id}", status_code=204)
async def delete_dataset(dataset_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterDep) -> None:
    """Delete a dataset, its samples, tasks and versions (the source objects stay in storage)."""
    await DatasetService(session, runtime, principal.tenant_id).delete(dataset_id)


@router.post("/{dataset_id}/import-tasks", status_code=201, response_model=ImportTaskRead)
async def create_import_task(dataset_id: str, body: ImportTaskCreate, session: SessionDep, runtime: RuntimeDep,
                             principal: WriterDep):
    """Import a folder (the seeds' layouts) or a ModelArts manifest, asynchronously.

    Follow ``GET .../import-tasks/{task_id}`` for progress and per-file errors (file, rule, message).
    Files already imported are skipped.
    """
    service = DatasetService(session, runtime, principal.tenant_id)
    task = await service.start_import(await service.datasets.get(dataset_id), body)
    return task_read(task)


@router.post("/{dataset_id}/sync", status_code=201, response_model=ImportTaskRead)
async def sync_dataset(dataset_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterDep):
    """Pick up the files that appeared under the input path since the last import (no duplicates)."""
    service = DatasetService(session, runtime, principal.tenant_id)
    task = await service.start_import(await service.datasets.get(dataset_id), ImportTaskCreate(), kind="sync")
    return task_read(task)


@router.get("/{dataset_id}/import-tasks")
async def list_import_tasks(dataset_id: str, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep,
                            offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """The dataset's import and synchronisation tasks, newest first."""
    page = await DatasetService(session, runtime, principal.tenant_id).import_tasks(dataset_id, offset=offset, limit=limit)
    return {"items": [task_read(t) for t in page.items], "total": page.total}


@router.get("/{dataset_id}/import-tasks/{task_id}", response_model=ImportTaskRead)
async def get_import_task(dataset_id: str, task_id: str, session: SessionDep, runtime: RuntimeDep,
                          principal: PrincipalDep):
    """Status and progress of one import task: counts and the per-file errors."""
    return task_read(await DatasetService(session, runtime, principal.tenant_id).import_task(dataset_id, task_id))
