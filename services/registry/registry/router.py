"""HTTP routes of the registry: AI applications (``/v1/models``) and their versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response

from registry.models import VERSION_STATUSES, AIApplication, ModelVersion
from registry.packages import pack_archive, unpack_archive
from registry.schemas import DeleteResult, ModelDetail, ModelList, ModelRead, ModelVersionList, ModelVersionRead
from registry.service import Registration, RegistryService
from shared.auth import PrincipalDep, require_role
from shared.errors import PayloadTooLarge
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/models", tags=["models"])
Writer = Depends(require_role("admin", "developer"))
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
STATUS_PATTERN = "^(" + "|".join(VERSION_STATUSES) + ")$"


def _service(runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep) -> RegistryService:
    return RegistryService(runtime, session, principal.tenant_id)


ServiceDep = Annotated[RegistryService, Depends(_service)]


def _read(app: AIApplication, latest: tuple[ModelVersion, int] | None) -> ModelRead:
    return ModelRead(
        model_id=app.id, model_name=app.name, project_id=app.project_id, task_type=app.task_type,
        description=app.description, version_count=latest[1] if latest else 0,
        latest_version=ModelVersionRead.model_validate(latest[0]) if latest else None,
        created_at=app.created_at, updated_at=app.updated_at,
    )


@router.get("", response_model=ModelList, summary="List AI applications")
async def list_models(
    service: ServiceDep,
    model_name: Annotated[str | None, Query(max_length=64, description="Part of the name")] = None,
    model_status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    task_type: Annotated[str | None, Query(max_length=32)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ModelList:
    """AI applications of the tenant, newest first, each with its latest version; filters by part of the
    name, by a status some version has, and by task type."""
    page = await service.apps.search(name=model_name, task_type=task_type, status=model_status, offset=offset,
                                     limit=limit)
    latest = await service.versions.latest([a.id for a in page.items])
    return ModelList(items=[_read(a, latest.get(a.id)) for a in page.items], total=page.total)


@router.post("", response_model=ModelVersionRead, status_code=201, dependencies=[Writer],
             summary="Register a model package uploaded from outside")
async def upload_model(
    runtime: RuntimeDep,
    service: ServiceDep,
    file: Annotated[UploadFile, File(description="zip or tar(.gz) of a model package (manifest.json at the root)")],
    model_name: Annotated[str, Form(pattern=MODEL_NAME_PATTERN)],
    description: Annotated[str, Form(max_length=100, pattern=r"^[^&!'\"<>=]*$")] = "",
) -> ModelVersionRead:
    """Validates the package (manifest and artifacts, ``shared.packages`` format) and records it as the next
    version of the AI application ``model_name`` (created if new), with ``source_type`` ``custom``."""
    limit = runtime.settings.max_package_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"package {file.filename} is larger than {limit} bytes", error_code="ModelArts.3017")
    files = unpack_archive(data, source=file.filename or "package", max_bytes=limit)
    reg = Registration(model_name=model_name, source_type="custom", description=description)
    version = await service.register_upload(files, reg, source=file.filename or "package")
    return ModelVersionRead.model_validate(version)


@router.get("/{model_id}", response_model=ModelDetail, summary="Get an AI application and its versions")
async def get_model(model_id: str, service: ServiceDep) -> ModelDetail:
    """The AI application with every version, newest first."""
    app = await service.apps.get(model_id)
    versions = (await service.versions.of(model_id)).items
    read = _read(app, (versions[0], len(versions)) if versions else None)
    return ModelDetail(**read.model_dump(), versions=[ModelVersionRead.model_validate(v) for v in versions])


@router.delete("/{model_id}", response_model=DeleteResult, dependencies=[Writer],
               summary="Delete an AI application with all its versions")
async def delete_model(model_id: str, service: ServiceDep) -> DeleteResult:
    """Refused with 409 while a service that is not stopped uses one of its versions."""
    return DeleteResult(deleted_versions=await service.delete_model(model_id))


@router.get("/{model_id}/versions", response_model=ModelVersionList, summary="List versions")
async def list_versions(
    model_id: str,
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ModelVersionList:
    """Versions of an AI application, newest first."""
    await service.apps.get(model_id)
    page = await service.versions.of(model_id, offset=offset, limit=limit)
    return ModelVersionList(items=[ModelVersionRead.model_validate(v) for v in page.items], total=page.total)


@router.get("/{model_id}/versions/{version}", response_model=ModelVersionRead, summary="Get a version")
async def get_version(model_id: str, version: str, service: ServiceDep) -> ModelVersionRead:
    """One version (``0.0.1``…): package location, task type, metrics, labels, lineage."""
    await service.apps.get(model_id)
    return ModelVersionRead.model_validate(await service.versions.get_version(model_id, version))


@router.delete("/{model_id}/versions/{version}", response_model=DeleteResult, dependencies=[Writer],
               summary="Delete a version")
async def delete_version(model_id: str, version: str, service: ServiceDep) -> DeleteResult:
    """Refused with 409 while a service that is not stopped uses the version."""
    return DeleteResult(deleted_versions=await service.delete_version(model_id, version))


@router.get("/{model_id}/versions/{version}/export", summary="Download a version's package (tar.gz)",
            response_class=Response, responses={200: {"content": {"application/gzip": {}}}})
async def export_version(model_id: str, version: str, service: ServiceDep) -> Response:
    """The model package as a tar.gz (ExeML forbids downloads; this platform allows them)."""
    app = await service.apps.get(model_id)
    _row, files = await service.package_files(model_id, version)
    top = f"{app.name}-{version}"
    return Response(
        pack_archive(files, top), media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{top}.tar.gz"'},
    )
