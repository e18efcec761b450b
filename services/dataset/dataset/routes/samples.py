"""``/v1/datasets/{id}/samples``: upload, list, detail, content, batch delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from dataset.repository import SampleFilter
from dataset.routes import DatasetId, SampleId, WriterDep
from dataset.samples import SampleService
from dataset.schemas import (
    UPLOAD_PARTIAL_EXAMPLE,
    SampleDelete,
    SampleDeleteResult,
    SampleList,
    SampleRead,
    UploadResult,
)
from shared.errors import ErrorDetail, PayloadTooLarge
from shared.naming import PLAIN_TEXT_PATTERN
from shared.service import RuntimeDep, tenant_service
from shared.service.params import Offset, limit_query

router = APIRouter(prefix="/v1/datasets/{dataset_id}/samples", tags=["samples"])
ServiceDep = Annotated[SampleService, Depends(tenant_service(SampleService))]
# Documented in one case (generators refuse case-duplicate enum values); ``train``/``eval`` still accepted.
Usage = Annotated[Literal["TRAIN", "EVAL"], BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)]

_UPLOAD_CURL = (
    'curl -X POST "http://localhost:8000/v1/datasets/3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e/samples" \\\n'
    '  -H "Authorization: Bearer $KEY" \\\n'
    '  -F "files=@daisy_001.jpg;type=image/jpeg" \\\n'
    '  -F "files=@daisy_001.txt;type=text/plain" \\\n'
    '  -F "files=@rose_002.jpg;type=image/jpeg"'
)
_CONTENT_TYPES = {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/bmp": {"schema": {"type": "string", "format": "binary"}},
    "audio/wav": {"schema": {"type": "string", "format": "binary"}},
    "text/plain": {"schema": {"type": "string"}, "example": "The battery lasts two days and charges fast"},
    "text/csv": {"schema": {"type": "string"}, "example": "age,income,churn\n42,5300.5,no\n"},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}


_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Every file was stored"},
    207: {
        "description": "Some files were stored (``samples``), the others were not: ``rejected`` names each "
        "with its rule",
        "model": UploadResult,
        "content": {"application/json": {"example": UPLOAD_PARTIAL_EXAMPLE}},
    },
}


@router.post(
    "",
    summary="Upload samples",
    status_code=201,
    response_model=UploadResult,
    responses=_UPLOAD_RESPONSES,
    openapi_extra={"x-codeSamples": [{"lang": "curl", "label": "curl", "source": _UPLOAD_CURL}]},
)
async def upload_samples(
    dataset_id: DatasetId,
    request: Request,
    response: Response,
    service: ServiceDep,
    runtime: RuntimeDep,
    _: WriterDep,
    files: list[UploadFile] = File(
        ..., description="The files; companions (x.txt/x.xml labels) next to their samples"
    ),
) -> UploadResult:
    """Upload several files (multipart field ``files``) into the dataset's input path.

    Companions travel along (``x.jpg`` + ``x.txt``/``x.xml``, ``t.txt`` + ``t_result.txt``). Every valid file
    is stored, as an import task does: 201 when all are, 207 Multi-Status when some are rejected, with
    ``rejected`` naming each rejected file (``file``, ``rule``, ``msg``, ``field`` where the rule names one).
    A file that goes with a rejected one is not stored either (``pair_rejected``). When no file is stored the
    answer is 400 naming every file (409 when they all exist already, 413 when they are all too large).
    Limits: image 5 MB, WAV 4 MB, text/CSV 8 MB, one upload 8 MB (configurable); an upload over its limit is
    refused as a whole (413).

    ``warnings`` lists problems of stored files per file (``file``, ``rule``, ``column``, ``msg``): VOC boxes
    that are inverted or leave their image (``voc_box_inverted``, ``voc_box_outside``: the image is stored
    unlabeled), and for CSV parts (each file is one part of the dataset's table) the rules of the version check
    that the table as a whole decides: ``min_rows`` (the table so far has fewer than 100 rows: upload more
    parts), ``timestamp_column`` and ``label_values`` (the label column has one value in this file). The check
    of a version reports them again as errors.
    """
    limit = runtime.settings.upload_max_bytes
    length = int(request.headers.get("content-length") or 0)
    if length > limit + 64 * 1024:  # multipart framing adds a little
        raise PayloadTooLarge(
            f"the upload is larger than {limit} bytes",
            details=[ErrorDetail("upload_too_large", f"one upload may carry at most {limit} bytes")],
        )
    uploaded = await service.upload(dataset_id, files)
    if uploaded.rejected:
        response.status_code = 207
    return UploadResult(
        success=not uploaded.rejected,
        samples=uploaded.samples,
        results=[{"success": True, "name": s.sample_name, "info": s.sample_id} for s in uploaded.samples],
        rejected=[r.as_dict() for r in uploaded.rejected],
        warnings=[w.as_dict() for w in uploaded.warnings],
    )


@router.get("", summary="List samples", response_model=SampleList)
async def list_samples(
    dataset_id: DatasetId,
    service: ServiceDep,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 1000)] = 10,
    sample_state: Literal["__ALL__", "__NONE__"] | None = Query(
        None, description="__ALL__ labeled, __NONE__ unlabeled"
    ),
    labeled: bool | None = None,
    label_name: str | None = Query(
        None, max_length=64, pattern=PLAIN_TEXT_PATTERN, description="Only samples with this label"
    ),
    usage: Usage | None = Query(
        None, description="Samples a published version put in TRAIN or EVAL (any case)"
    ),
    search: str | None = Query(
        None, max_length=200, pattern=PLAIN_TEXT_PATTERN, description="Part of the sample name"
    ),
    sort_by: Literal["create_time", "sample_name", "sample_size"] = "create_time",
    order: Literal["asc", "desc"] = "desc",
) -> SampleList:
    """Page through samples: labeled/unlabeled (``labeled`` or ModelArts ``sample_state``), by label, by usage,
    by name; sorted by ``sort_by`` and ``order``."""
    if sample_state is not None and labeled is None:
        labeled = sample_state == "__ALL__"
    flt = SampleFilter(labeled=labeled, label_name=label_name, usage=usage, search=search)
    page = await service.list(dataset_id, flt, offset=offset, limit=limit, sort_by=sort_by, order=order)
    return SampleList(items=page.items, total=page.total)


@router.post("/delete", summary="Delete samples", response_model=SampleDeleteResult)
async def delete_samples(
    dataset_id: DatasetId, body: SampleDelete, service: ServiceDep, _: WriterDep
) -> SampleDeleteResult:
    """Delete samples by id (``{"samples": [...], "delete_source": false}``); with ``delete_source`` the
    objects go too. Answers per sample, ModelArts style."""
    result = await service.delete(dataset_id, body.samples, body.delete_source)
    return SampleDeleteResult.model_validate(result)


@router.get("/{sample_id}", summary="Get a sample", response_model=SampleRead)
async def get_sample(
    dataset_id: DatasetId,
    sample_id: SampleId,
    service: ServiceDep,
):
    """One sample with a presigned ``url`` (valid one hour) and a ``content_url`` on this API."""
    return await service.detail(dataset_id, sample_id)


@router.get(
    "/{sample_id}/content",
    summary="Download a sample's content",
    response_class=Response,
    responses={
        200: {
            "description": "The sample's bytes in its own media type (a text sample's line as text/plain)",
            "content": _CONTENT_TYPES,
        }
    },
)
async def get_sample_content(
    dataset_id: DatasetId,
    sample_id: SampleId,
    service: ServiceDep,
    thumbnail: bool = Query(False, description="Images: a JPEG at most 200 px wide"),
) -> Response:
    """The sample's bytes, for a browser to show or play; ``thumbnail=true`` gives a 200 px JPEG of an image.

    The media type follows the file: ``image/jpeg``, ``image/png``, ``image/bmp``, ``audio/wav``,
    ``text/plain`` (text samples), ``text/csv`` (tables)."""
    body, media_type = await service.content(dataset_id, sample_id, thumbnail)
    if isinstance(body, bytes):
        return Response(body, media_type=media_type)
    return StreamingResponse(body, media_type=media_type)
