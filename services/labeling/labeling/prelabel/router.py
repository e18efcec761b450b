"""HTTP routes of model-assisted labeling under ``/v1/datasets/{dataset_id}``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from labeling.prelabel.schemas import (
    PrelabelTaskCreate,
    PrelabelTaskList,
    PrelabelTaskRead,
    SuggestionAccept,
    SuggestionList,
)
from labeling.prelabel.service import PrelabelService
from labeling.router import DatasetId, SampleId, with_outbox
from labeling.schemas import SampleAnnotations
from shared.auth import WriterDep
from shared.naming import ID_PATTERN
from shared.service import RuntimeDep, tenant_service
from shared.service.params import Offset

TaskId = Annotated[str, Path(pattern=ID_PATTERN, description="The pre-label task's id")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page (1–1000)")]

tasks_router = APIRouter(prefix="/v1/datasets/{dataset_id}/prelabel-tasks", tags=["model-assisted labeling"])
suggestions_router = APIRouter(
    prefix="/v1/datasets/{dataset_id}/suggestions", tags=["model-assisted labeling"]
)


ServiceDep = Annotated[PrelabelService, Depends(tenant_service(with_outbox(PrelabelService)))]


@tasks_router.post(
    "", response_model=PrelabelTaskRead, status_code=201, summary="Pre-label with a running service"
)
async def create_prelabel_task(
    dataset_id: DatasetId,
    body: PrelabelTaskCreate,
    service: ServiceDep,
    runtime: RuntimeDep,
    _: WriterDep,
) -> PrelabelTaskRead:
    """Ask a running real-time service (same type as the dataset) for suggestions on the unlabeled samples
    (or the listed ones). The task runs in the background; each sample gets a *suggestion*, which is not an
    annotation: it counts as labeled only once a person accepts it. Not running → 409 ``ModelArts.4432``."""
    return await service.create(dataset_id, body, runtime.peers)


@tasks_router.get("", response_model=PrelabelTaskList, summary="List pre-label tasks")
async def list_prelabel_tasks(
    dataset_id: DatasetId,
    service: ServiceDep,
    offset: Offset = 0,
    limit: Limit = 20,
) -> PrelabelTaskList:
    """The dataset's pre-label tasks, newest first."""
    return await service.list(dataset_id, offset, limit)


@tasks_router.get("/{task_id}", response_model=PrelabelTaskRead, summary="Get a pre-label task")
async def get_prelabel_task(dataset_id: DatasetId, task_id: TaskId, service: ServiceDep) -> PrelabelTaskRead:
    """Status and progress (samples suggested, samples the service refused)."""
    return await service.get(dataset_id, task_id)


@suggestions_router.get("", response_model=SuggestionList, summary="Suggested labels of unlabeled samples")
async def list_suggestions(
    dataset_id: DatasetId,
    service: ServiceDep,
    order: Annotated[
        Literal["uncertainty", "name"],
        Query(description="``uncertainty``: the samples the model hesitates on first (label these first)"),
    ] = "uncertainty",
    offset: Offset = 0,
    limit: Limit = 50,
) -> SuggestionList:
    """Each unlabeled sample's suggestion (labels, boxes and scores) with the model's uncertainty."""
    return await service.list_suggestions(dataset_id, order, offset, limit)


@suggestions_router.post(
    "/{sample_id}/accept", response_model=SampleAnnotations, summary="Accept a suggestion"
)
async def accept_suggestion(
    dataset_id: DatasetId,
    sample_id: SampleId,
    service: ServiceDep,
    _: WriterDep,
    body: Annotated[SuggestionAccept | None, Body()] = None,
) -> SampleAnnotations:
    """The suggestion becomes the sample's annotations, as is or corrected (``annotations``), under the
    labeling rules of the type; the sample is then labeled and its suggestion gone."""
    return await service.accept(dataset_id, sample_id, body)


@suggestions_router.delete("/{sample_id}", status_code=204, summary="Reject a suggestion")
async def reject_suggestion(
    dataset_id: DatasetId, sample_id: SampleId, service: ServiceDep, _: WriterDep
) -> Response:
    """Drop the suggestion; the sample stays unlabeled."""
    await service.reject(dataset_id, sample_id)
    return Response(status_code=204)
