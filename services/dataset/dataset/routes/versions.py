"""``/v1/datasets/{id}/versions``: publish, list, get, delete, check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from dataset.routes import DatasetId, VersionId, WriterDep
from dataset.schemas import CheckReport, VersionCreate, VersionList, VersionRead
from dataset.versions import VersionService, version_read
from shared.auth import PrincipalDep
from shared.service import RuntimeDep, SessionDep
from shared.service.params import Offset, limit_query

router = APIRouter(prefix="/v1/datasets/{dataset_id}/versions", tags=["versions"])


@router.post("", summary="Publish a dataset version", status_code=201, response_model=VersionRead)
async def publish_dataset_version(
    dataset_id: DatasetId, body: VersionCreate, session: SessionDep, runtime: RuntimeDep, principal: WriterDep
):
    """Publish a version (asynchronous): labeled samples and their annotations frozen into a manifest with a
    random stratified TRAIN/EVAL split by ``train_evaluate_sample_ratio`` (default 0.8). Names default to
    V001, V002…; a duplicate name is refused (ModelArts.4371). Poll the version until ``status`` is NORMAL."""
    return await VersionService(session, runtime, principal.tenant_id).publish(dataset_id, body)


@router.get("", summary="List dataset versions", response_model=VersionList)
async def list_dataset_versions(
    dataset_id: DatasetId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 100)] = 10,
) -> VersionList:
    """The dataset's versions, newest first."""
    page = await VersionService(session, runtime, principal.tenant_id).list(
        dataset_id, offset=offset, limit=limit
    )
    return VersionList(items=page.items, total=page.total)


@router.get("/{version_id}", summary="Get a dataset version", response_model=VersionRead)
async def get_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """One version: status, manifest path, counts per usage and label, the last check report."""
    return version_read(
        await VersionService(session, runtime, principal.tenant_id).get(dataset_id, version_id)
    )


@router.delete("/{version_id}", summary="Delete a dataset version", status_code=204)
async def delete_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterDep,
) -> None:
    """Delete a version and its frozen files."""
    await VersionService(session, runtime, principal.tenant_id).delete(dataset_id, version_id)


@router.post("/{version_id}/check", summary="Check a dataset version", response_model=CheckReport)
async def check_dataset_version(
    dataset_id: DatasetId,
    version_id: VersionId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterDep,
):
    """Check the version against the rules of its type; the report (violations with counts, ``passed``) is
    stored on the version and announced as ``dataset.version.checked.v1``."""
    return await VersionService(session, runtime, principal.tenant_id).check(dataset_id, version_id)
