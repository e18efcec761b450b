"""``/v1/training-jobs``: create, list, get, stop and delete training jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from shared.auth import WriterDep
from shared.db import utcnow
from shared.service import tenant_service
from shared.service.params import Offset, limit_query
from trainer.jobs.schemas import (
    ID_PATTERN,
    JOB_ID,
    Status,
    TaskType,
    TrainingJobCreate,
    TrainingJobList,
    TrainingJobRead,
)
from trainer.jobs.service import TrainingJobService
from trainer.models import TrainingJob

__all__ = ["router"]

router = APIRouter(prefix="/v1/training-jobs", tags=["training-jobs"])
JobId = Annotated[str, Path(pattern=ID_PATTERN, description="The training job's id", examples=[JOB_ID])]
IdFilter = Query(pattern=ID_PATTERN)
ServiceDep = Annotated[TrainingJobService, Depends(tenant_service(TrainingJobService))]


def to_read(job: TrainingJob, summary: bool = False) -> TrainingJobRead:
    read = TrainingJobRead.model_validate(job)
    if summary:  # lists leave out the bulky parts; GET one job for them
        read.logs, read.curves, read.candidates = read.logs[-5:], None, None
    if job.started_at is not None:
        end: datetime = job.finished_at or utcnow()
        read.duration_seconds = round((end - job.started_at).total_seconds(), 3)
    return read


@router.post("", status_code=201, response_model=TrainingJobRead, summary="Create a training job")
async def create_training_job(body: TrainingJobCreate, _: WriterDep, service: ServiceDep) -> TrainingJobRead:
    """Train a model on a published dataset version.

    The version must be published (known from ``dataset.version.published.v1``) and belong to
    ``dataset_id``; ``task_type`` must match the dataset's type. Parameters follow the ExeML training
    configuration: ``train_ratio`` 0-1 with at most 5 decimals (used when the version has no split),
    ``max_training_duration`` 6-6000 minutes (the whole run: data, search, export, evaluation),
    ``training_preference``, ``incremental_training_version`` (a completed job of the same project and
    label set), ``inference_hardware`` and ``max_inference_duration_ms`` (1-20000). The job is queued on
    ``trainer.jobs.<flavor>`` and answered with status ``pending``; a bad parameter is a 400 whose
    details name the field.
    """
    job = await service.create(body)
    return to_read(job)


@router.get("", response_model=TrainingJobList, summary="List training jobs")
async def list_training_jobs(
    service: ServiceDep,
    status: Annotated[Status | None, Query(description="Only jobs in this status")] = None,
    task_type: Annotated[TaskType | None, Query(description="Only jobs of this task type")] = None,
    project_id: Annotated[str | None, IdFilter] = None,
    dataset_id: Annotated[str | None, IdFilter] = None,
    offset: Offset = 0,
    limit: Annotated[int, limit_query(10, 100)] = 10,
) -> TrainingJobList:
    """The tenant's training jobs, newest first, filtered and paginated (``offset``/``limit``).

    Items carry the last 5 log lines and no curves or candidates; get one job for those."""
    page = await service.search(
        status=status,
        task_type=task_type,
        project_id=project_id,
        dataset_id=dataset_id,
        offset=offset,
        limit=limit,
    )
    return TrainingJobList(items=[to_read(job, summary=True) for job in page.items], total=page.total)


@router.get("/{job_id}", response_model=TrainingJobRead, summary="Get a training job")
async def get_training_job(job_id: JobId, service: ServiceDep) -> TrainingJobRead:
    """Status, progress (%), phase timings, best metric so far, the last log lines, and once done the
    validation metrics, training curves, the candidates tried and the model package URI."""
    return to_read(await service.get(job_id))


@router.post("/{job_id}/stop", response_model=TrainingJobRead, summary="Stop a training job")
async def stop_training_job(job_id: JobId, _: WriterDep, service: ServiceDep) -> TrainingJobRead:
    """Stop a job. A pending job ends ``terminated`` at once. A running job turns ``terminating``: its
    worker sees the request at the next heartbeat, the engine packages the best model found so far and
    the job ends ``completed`` with ``stopped_early`` true (``terminated`` if no model existed yet).
    A finished job answers 409."""
    return to_read(await service.stop(job_id))


@router.delete("/{job_id}", status_code=204, summary="Delete a training job")
async def delete_training_job(job_id: JobId, _: WriterDep, service: ServiceDep) -> Response:
    """Delete a job that is not running (409 otherwise). Its model package stays in storage, since a
    registered model version may point at it."""
    await service.delete(job_id)
    return Response(status_code=204)
