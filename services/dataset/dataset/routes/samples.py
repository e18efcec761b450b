"""``/v1/datasets/{id}/samples``: upload, list, detail, content, batch delete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from dataset.repository import SampleFilter
from dataset.routes import WriterDep
from dataset.samples import SampleService
from dataset.schemas import SampleDelete, SampleRead
from shared.auth import PrincipalDep
from shared.errors import ErrorDetail, PayloadTooLarge
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/datasets/{dataset_id}/samples", tags=["samples"])


@router.post("", status_code=201)
async def upload_samples(dataset_id: str, request: Request, session: SessionDep, runtime: RuntimeDep,
                         principal: WriterDep, files: list[UploadFile] = File(...)) -> dict[str, Any]:
    """Upload several files (multipart field ``files``) into the dataset's input path.

    Companions travel along (``x.jpg`` + ``x.txt``/``x.xml``, ``t.txt`` + ``t_result.txt``). Every file is
    validated first; if one breaks a rule the answer is 400 (413 for sizes) naming each file and rule, and
    nothing is stored. Limits: image 5 MB, WAV 4 MB, text/CSV 8 MB, one upload 8 MB (configurable).
    """
    limit = runtime.settings.upload_max_bytes  # type: ignore[attr-defined]
    length = int(request.headers.get("content-length") or 0)
    if length > limit + 64 * 1024:  # multipart framing adds a little
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes", details=[
            ErrorDetail("upload_too_large", f"one upload may carry at most {limit} bytes")])
    samples = await SampleService(session, runtime, principal.tenant_id).upload(dataset_id, files)
    return {"success": True, "samples": samples, "results": [
        {"success": True, "name": s.sample_name, "info": s.sample_id} for s in samples]}


@router.get("")
async def list_samples(
    dataset_id: str, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep,
    offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=1000),
    sample_state: Literal["__ALL__", "__NONE__"] | None = Query(None, description="__ALL__ labeled, __NONE__ unlabeled"),
    labeled: bool | None = None, label_name: str | None = Query(None, max_length=64),
    usage: Literal["TRAIN", "EVAL", "train", "eval"] | None = None, search: str | None = Query(None, max_length=200),
    sort_by: Literal["create_time", "sample_name", "sample_size"] = "create_time",
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    """Page through samples: labeled/unlabeled (``labeled`` or ModelArts ``sample_state``), by label, by usage,
    by name; sorted by ``sort_by`` and ``order``."""
    if sample_state is not None and labeled is None:
        labeled = sample_state == "__ALL__"
    flt = SampleFilter(labeled=labeled, label_name=label_name, usage=usage, search=search)
    page = await SampleService(session, runtime, principal.tenant_id).list(
        dataset_id, flt, offset=offset, limit=limit, sort_by=sort_by, order=order)
    return {"items": page.items, "total": page.total}


@router.post("/delete")
async def delete_samples(dataset_id: str, body: SampleDelete, session: SessionDep, runtime: RuntimeDep,
                         principal: WriterDep) -> dict[str, Any]:
    """Delete samples by id (``{"samples": [...], "delete_source": false}``); with ``delete_source`` the
    objects go too. Answers per sample, ModelArts style."""
    return await SampleService(session, runtime, principal.tenant_id).delete(dataset_id, body.samples, body.delete_source)


@router.get("/{sample_id}", response_model=SampleRead)
async def get_sample(dataset_id: str, sample_id: str, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep):
    """One sample with a presigned ``url`` (valid one hour) and a ``content_url`` on this API."""
    return await SampleService(session, runtime, principal.tenant_id).detail(dataset_id, sample_id)


@router.get("/{sample_id}/content")
async def get_sample_content(dataset_id: str, sample_id: str, session: SessionDep, runtime: RuntimeDep,
                             principal: PrincipalDep, thumbnail: bool = False) -> Response:
    """The sample's bytes, for a browser to show or play; ``thumbnail=true`` gives a 200 px JPEG of an image."""
    body, media_type = await SampleService(session, runtime, principal.tenant_id).content(dataset_id, sample_id, thumbnail)
    if isinstance(body, bytes):
        return Response(body, media_type=media_type)
    return StreamingResponse(body, media_type=media_type)
