"""``/v1/datasets/{id}/versions``: publish, list, get, delete, check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dataset.routes import DatasetId, VersionId, WriterDep
from dataset.schemas import CheckReport, VersionCreate, VersionList, VersionRead
from dataset.versions import VersionService, version_read
from shared.service import tenant_service
from shared.service.params import Offset, limit_query

router = APIRouter(prefix="/v1/datasets/{dataset_id}/versions", tags=["versions"])
ServiceDep = Annotated[VersionService, Depends(tenant_service(VersionService))]


@router.post("", summary="Publish a dataset version", status_code=201, response_model=VersionRead)
async def publish_dataset_version(
    dataset_id: DatasetId, body: VersionCreate, service: ServiceDep, _: WriterDep
):
    """Publish a version (asynchronous): labeled samples and their annotations frozen into a manifest with a
    random stratified TRAIN/EVAL split by ``train_evaluate_sample_ratio`` (default 0.8). Names default to
    V001, V002…; a duplicate name is refused (ModelArts.4371). Poll the version until ``status`` is NORMAL."""
    return await service.publish(dataset_id, body)


@router.get("", summary="List dataset versions", response_model=VersionList)
async def list_dataset_versions(
    dataset_id: DatasetId,
    service: ServiceDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 100)] = 10,
) -> VersionList:
    """The dataset's versions, newest first."""
    page = await service.list(dataset_id, offset=offset, limit=limit)
    return VersionList(items=page.items, total=page.total)


@router.get("/{version_id}", summary="Get a dataset version", response_model=VersionRead)
async def get_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    service: ServiceDep,
):
    """One version: status, manifest path, counts per usage and label, the last check report."""
    return version_read(await service.get(dataset_id, version_id))


@router.delete("/{version_id}", summary="Delete a dataset version", status_code=204)
async def delete_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    service: ServiceDep,
    _: WriterDep,
) -> None:
    """Delete a version and its frozen files."""
    await service.delete(dataset_id, version_id)


@router.post("/{version_id}/check", summary="Check a dataset version", response_model=CheckReport)
async def check_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    service: ServiceDep,
    _: WriterDep,
):
    """Check the version against the rules of its type; the report (violations with counts, ``passed``) is
    stored on the version and announced as ``dataset.version.checked.v1``."""
    return await service.check(dataset_id, version_id)
