"""HTTP routes of the registry: AI applications (``/v1/models``) and their versions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from registry.errors import PackageTooLarge
from registry.models import VERSION_STATUSES, AIApplication, ModelVersion
from registry.packages import pack_archive, unpack_archive
from registry.schemas import (
    MODEL_ID,
    DeleteResult,
    ModelDetail,
    ModelList,
    ModelRead,
    ModelVersionList,
    ModelVersionRead,
)
from registry.service import Registration, RegistryService
from shared.auth import WriterDep
from shared.naming import ID_PATTERN, PLAIN_TEXT_PATTERN
from shared.packages import TASK_TYPES
from shared.service import RuntimeDep, tenant_service
from shared.service.params import Offset, limit_query

router = APIRouter(prefix="/v1/models", tags=["models"])
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Status = Literal[VERSION_STATUSES]  # type: ignore[valid-type]  # a Literal of the model's VERSION_STATUSES, listed once
VERSION_PATTERN = r"^(0|[1-9]\d?)\.(0|[1-9]\d?)\.(0|[1-9]\d?)$"
ModelId = Annotated[str, Path(pattern=ID_PATTERN, description="The AI application's id", examples=[MODEL_ID])]
Version = Annotated[
    str, Path(pattern=VERSION_PATTERN, description="The version: Digit.Digit.Digit", examples=["0.0.1"])
]
TaskType = Literal[TASK_TYPES]  # type: ignore[valid-type]  # a Literal of shared.packages' TASK_TYPES, listed once
UPLOAD_SAMPLE = """curl -X POST http://localhost:8000/v1/models \\
  -H "Authorization: Bearer $KEY" \\
  -F "file=@flowers-package.tar.gz" \\
  -F "model_name=flowers-custom" \\
  -F "description=ResNet retrained offline"
"""


ServiceDep = Annotated[RegistryService, Depends(tenant_service(RegistryService))]


def _read(app: AIApplication, latest: tuple[ModelVersion, int] | None) -> ModelRead:
    return ModelRead(
        model_id=app.id,
        model_name=app.name,
        project_id=app.project_id,
        task_type=app.task_type,
        description=app.description,
        version_count=latest[1] if latest else 0,
        latest_version=ModelVersionRead.model_validate(latest[0]) if latest else None,
        created_at=app.created_at,
        updated_at=app.updated_at,
    )


@router.get("", response_model=ModelList, summary="List AI applications")
async def list_models(
    service: ServiceDep,
    model_name: Annotated[
        str | None, Query(max_length=64, pattern=PLAIN_TEXT_PATTERN, description="Part of the name")
    ] = None,
    model_status: Annotated[Status | None, Query(description="A status some version has")] = None,
    task_type: Annotated[TaskType | None, Query(description="Only AI applications of this task type")] = None,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(100, 1000)] = 100,
) -> ModelList:
    """AI applications of the tenant, newest first, each with its latest version; filters by part of the
    name, by a status some version has, and by task type."""
    page, latest = await service.search(
        name=model_name, task_type=task_type, status=model_status, offset=offset, limit=limit
    )
    return ModelList(items=[_read(a, latest.get(a.id)) for a in page.items], total=page.total)


@router.post(
    "",
    response_model=ModelVersionRead,
    status_code=201,
    summary="Register a model package uploaded from outside",
    openapi_extra={"x-codeSamples": [{"lang": "curl", "label": "curl", "source": UPLOAD_SAMPLE}]},
)
async def upload_model(
    runtime: RuntimeDep,
    writer: WriterDep,
    service: ServiceDep,
    file: Annotated[
        UploadFile, File(description="zip or tar(.gz) of a model package (manifest.json at the root)")
    ],
    model_name: Annotated[
        str, Form(pattern=MODEL_NAME_PATTERN, description="The AI application (created if new)")
    ],
    description: Annotated[str, Form(max_length=100, pattern=r"^[^&!'\"<>=\x00-\x1f\x7f]*$")] = "",
) -> ModelVersionRead:
    """Validates the package (manifest and artifacts, ``shared.packages`` format) and records it as the next
    version of the AI application ``model_name`` (created if new), with ``source_type`` ``custom``."""
    limit = runtime.settings.max_package_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PackageTooLarge(f"package {file.filename} is larger than {limit} bytes")
    files = unpack_archive(data, source=file.filename or "package", max_bytes=limit)
    reg = Registration(model_name=model_name, source_type="custom", description=description)
    version = await service.register_upload(files, reg, source=file.filename or "package")
    return ModelVersionRead.model_validate(version)


@router.get("/{model_id}", response_model=ModelDetail, summary="Get an AI application and its versions")
async def get_model(model_id: ModelId, service: ServiceDep) -> ModelDetail:
    """The AI application with every version, newest first."""
    app, versions = await service.application(model_id)
    read = _read(app, (versions[0], len(versions)) if versions else None)
    return ModelDetail(**read.model_dump(), versions=[ModelVersionRead.model_validate(v) for v in versions])


@router.delete(
    "/{model_id}", response_model=DeleteResult, summary="Delete an AI application with all its versions"
)
async def delete_model(model_id: ModelId, service: ServiceDep, writer: WriterDep) -> DeleteResult:
    """Refused with 409 while a service that is not stopped uses one of its versions."""
    return DeleteResult(deleted_versions=await service.delete_model(model_id))


@router.get("/{model_id}/versions", response_model=ModelVersionList, summary="List versions")
async def list_model_versions(
    model_id: ModelId,
    service: ServiceDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(100, 1000)] = 100,
) -> ModelVersionList:
    """Versions of an AI application, newest first."""
    page = await service.versions_of(model_id, offset=offset, limit=limit)
    return ModelVersionList(items=[ModelVersionRead.model_validate(v) for v in page.items], total=page.total)


@router.get("/{model_id}/versions/{version}", response_model=ModelVersionRead, summary="Get a version")
async def get_model_version(model_id: ModelId, version: Version, service: ServiceDep) -> ModelVersionRead:
    """One version (``0.0.1``…): package location, task type, metrics, labels, lineage."""
    return ModelVersionRead.model_validate(await service.version(model_id, version))


@router.delete("/{model_id}/versions/{version}", response_model=DeleteResult, summary="Delete a version")
async def delete_model_version(
    model_id: ModelId, version: Version, service: ServiceDep, writer: WriterDep
) -> DeleteResult:
    """Refused with 409 while a service that is not stopped uses the version."""
    return DeleteResult(deleted_versions=await service.delete_version(model_id, version))


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_PACKAGE_TYPES = {"application/gzip": _BINARY, "application/octet-stream": _BINARY}


@router.get(
    "/{model_id}/versions/{version}/export",
    summary="Download a version's package (tar.gz)",
    response_class=Response,
    responses={
        200: {
            "description": "The package (manifest.json and the model files under one folder), gzipped tar; "
            "`application/octet-stream` when the request accepts only that",
            "content": _PACKAGE_TYPES,
        }
    },
)
async def export_model_version(
    model_id: ModelId, version: Version, service: ServiceDep, request: Request
) -> Response:
    """The model package as a tar.gz (ExeML forbids downloads; this platform allows them)."""
    top, files = await service.package_files(model_id, version)
    # Generic binary clients (generated ones among them) ask for octet-stream; the bytes are the same.
    accept = request.headers.get("accept", "")
    media_type = (
        "application/octet-stream"
        if "octet-stream" in accept and "gzip" not in accept
        else "application/gzip"
    )
    return Response(
        pack_archive(files, top),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{top}.tar.gz"'},
    )
