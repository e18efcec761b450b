"""``/v1/batch-services``: batch services (ModelArts' ``infer_type: batch``): create, list, get, stop, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from inference.batch.results import result_uris
from inference.batch.schemas import (
    BATCH_ID,
    BatchConfigRead,
    BatchServiceCreate,
    BatchServiceList,
    BatchServiceRead,
    BatchServiceUpdate,
    BatchStatusName,
)
from inference.batch.service import BatchServices
from inference.models import BatchService, BatchStatus
from shared.auth import WriterDep
from shared.naming import ID_PATTERN, PLAIN_TEXT_PATTERN
from shared.service import tenant_service
from shared.service.params import Offset, limit_query

__all__ = ["router"]

router = APIRouter(prefix="/v1/batch-services", tags=["batch-services"])
BatchId = Annotated[str, Path(pattern=ID_PATTERN, description="The batch service's id", examples=[BATCH_ID])]
ServiceDep = Annotated[BatchServices, Depends(tenant_service(BatchServices))]
PageLimit = Annotated[int, limit_query(100, 1000)]
_ENDED = (BatchStatus.FINISHED, BatchStatus.STOPPED)


def to_read(job: BatchService) -> BatchServiceRead:
    config = BatchConfigRead(
        model_id=job.model_id,
        model_name=job.model_name,
        model_version=job.model_version,
        task_type=job.task_type,
        specification=job.specification,
        instance_count=job.instance_count,
        src_path=job.src_path,
        dest_path=job.dest_path,
    )
    return BatchServiceRead(
        service_id=job.id,
        service_name=job.name,
        description=job.description,
        status=job.status,
        progress=job.progress,
        error_msg=job.error_msg,
        config=[config],
        input_count=job.total_inputs,
        processed_count=job.done_inputs,
        failed_count=job.failed_inputs,
        results=result_uris(job) if job.status in _ENDED else [],
        publish_at=job.created_at,
        update_time=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post("", status_code=201, response_model=BatchServiceRead, summary="Create a batch service")
async def create_batch_service(
    body: BatchServiceCreate, _: WriterDep, service: ServiceDep
) -> BatchServiceRead:
    """Runs a published model version over every input of ``src_path`` and writes the answers to
    ``dest_path``, both folders in the tenant's storage (another tenant's or the platform's storage is a
    403). Inputs by the version's task type: images (.jpg .jpeg .png .bmp), WAV files, text files (one input
    per non-blank line) or CSV files with a header (one input per row).

    The batch service starts ``deploying``; a worker lists the inputs, loads the model on Triton (the same
    package and predictor as real-time services) and goes ``running``, answering the inputs chunk by chunk
    (``progress``, ``processed_count``); it ends ``finished`` with ``results``: ``results.jsonl``, one line per
    input in input order, ``{"index", "source", "line" (text) | "row" (CSV), "result"}`` where ``result`` is
    what a real-time prediction of that input answers (a table row: its ``resp_data`` entry), or ``"error":
    {"rule", "msg", "field"}`` for an input the model cannot read (counted in ``failed_count``; the others go
    on). Tables also get ``results.csv``. A worker that stops or dies mid-way is taken over where it stopped,
    answering no input twice. Events: ``inference.batch_service.created/started/progressed/finished/stopped/
    failed.v1``."""
    return to_read(await service.create(body))


@router.get("", response_model=BatchServiceList, summary="List batch services")
async def list_batch_services(
    service: ServiceDep,
    service_name: Annotated[
        str | None, Query(max_length=64, pattern=PLAIN_TEXT_PATTERN, description="Part of the name")
    ] = None,
    status: Annotated[BatchStatusName | None, Query(description="Only batch services in this status")] = None,
    offset: Offset = 0,
    limit: PageLimit = 100,
) -> BatchServiceList:
    """Batch services of the tenant, newest first; filter by part of the name and by status."""
    page = await service.search(name=service_name, status=status, offset=offset, limit=limit)
    return BatchServiceList(items=[to_read(job) for job in page.items], total=page.total)


@router.get("/{service_id}", response_model=BatchServiceRead, summary="Get a batch service")
async def get_batch_service(service_id: BatchId, service: ServiceDep) -> BatchServiceRead:
    """Status, progress, input counts, error, and the result files once finished or stopped."""
    return to_read(await service.get(service_id))


@router.put("/{service_id}", response_model=BatchServiceRead, summary="Stop a batch service")
async def update_batch_service(
    service_id: BatchId, body: BatchServiceUpdate, _: WriterDep, service: ServiceDep
) -> BatchServiceRead:
    """``{"status": "stopped"}``: the batch service goes ``stopping``, the worker ends after the chunk in
    hand and writes the result files with the answers so far (``stopped``). A finished or failed one is a
    400 (ModelArts.3519)."""
    return to_read(await service.stop(service_id))


@router.delete("/{service_id}", status_code=204, summary="Delete a batch service")
async def delete_batch_service(service_id: BatchId, _: WriterDep, service: ServiceDep) -> None:
    """Forgets a finished, stopped or failed batch service (a running one: stop it first, else 400
    ModelArts.3519); its result files stay in ``dest_path``."""
    await service.delete(service_id)
