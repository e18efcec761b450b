"""The loop that works through pre-label tasks: each sample's content from the dataset service, the
prediction from the inference service, the suggestion written with the task's progress in one transaction.

A task is state: ``running`` tasks found at start (a stopped process's) are resumed at the first sample not
yet counted. A sample the service refuses (4xx: a corrupt file) is counted as failed and skipped; a service
that stops or fails (409, 5xx, unreachable) fails the task with its message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from labeling.models import PrelabelTask, Sample, Suggestion
from labeling.prelabel.answers import suggestion_from_answer
from labeling.prelabel.repository import SuggestionRepository, next_task_id
from labeling.repository import DatasetRepository
from labeling.rules import SOUND_CLASSIFICATION, TEXT_CLASSIFICATION
from shared.db import utcnow
from shared.errors import ExeMLError
from shared.logging import get_logger
from shared.service import ServiceRuntime
from shared.service.peers import PeerError

__all__ = ["run_prelabel_tasks"]

log = get_logger(__name__)


class TaskFailed(Exception):
    """The service cannot answer any more: the task ends as failed with this message."""


_SAMPLE_REFUSED = (400, 413, 415, 422)  # the service refuses this sample's content; the next may pass


async def _content(runtime: ServiceRuntime, task: PrelabelTask, sample_id: str) -> bytes | None:
    """The sample's bytes, None if it was deleted meanwhile."""
    path = f"/v1/datasets/{task.dataset_id}/samples/{sample_id}/content"
    try:
        return (await runtime.peers.request("dataset", "GET", path, tenant_id=task.tenant_id)).content
    except PeerError as exc:
        if exc.status_code == 404:
            return None
        raise TaskFailed(f"dataset {task.dataset_id}: {exc.error_msg}") from exc
    except ExeMLError as exc:
        raise TaskFailed(f"dataset service: {exc.error_msg}") from exc


async def _predict(
    runtime: ServiceRuntime, task: PrelabelTask, dataset_type: int, content: bytes
) -> dict[str, Any] | None:
    """The service's answer, None if it refused this sample."""
    if dataset_type == TEXT_CLASSIFICATION:
        request: dict[str, Any] = {"json": {"text": content.decode("utf-8", "replace")}}
    elif dataset_type == SOUND_CLASSIFICATION:
        request = {"files": {"sound": ("sample.wav", content, "audio/wav")}}
    else:
        request = {"files": {"images": ("sample", content, "application/octet-stream")}}
    try:
        response = await runtime.peers.request(
            "inference", "POST", f"/v1/infers/{task.service_id}", tenant_id=task.tenant_id, **request
        )
    except PeerError as exc:
        if exc.status_code in _SAMPLE_REFUSED:
            return None
        raise TaskFailed(
            f"service {task.service_id}: {exc.error_msg}"
        ) from exc  # stopped (409), deleted (404)
    except ExeMLError as exc:  # unreachable or 5xx
        raise TaskFailed(f"service {task.service_id}: {exc.error_msg}") from exc
    return response.json()


async def _one_sample(runtime: ServiceRuntime, tenant_id: str, task_id: str) -> bool:
    """Pre-label the task's next sample; False when the task has none left (it is then completed)."""
    async with runtime.db.session() as session:
        task = await session.get(PrelabelTask, task_id, with_for_update=True)
        assert task is not None and task.tenant_id == tenant_id
        done = task.processed_count + task.failed_count
        if task.status != "running" or done >= len(task.sample_ids):
            if task.status == "running":
                task.status, task.finished_at = "completed", utcnow()
            return False
        sample_id = task.sample_ids[done]
        dataset = await DatasetRepository(session, tenant_id).get_live(task.dataset_id)
        sample = await session.get(Sample, sample_id)
        content = await _content(runtime, task, sample_id) if sample is not None else None
        answer = await _predict(runtime, task, dataset.dataset_type, content) if content is not None else None
        if answer is None or sample is None:
            task.failed_count += 1
            return True
        predictions, uncertainty = suggestion_from_answer(
            dataset.dataset_type,
            answer,
            width=sample.width,
            height=sample.height,
            min_box_score=runtime.settings.prelabel_min_box_score,
        )
        await SuggestionRepository(session, tenant_id).delete_for_samples(task.dataset_id, [sample_id])
        session.add(
            Suggestion(
                tenant_id=tenant_id,
                dataset_id=task.dataset_id,
                sample_id=sample_id,
                task_id=task.id,
                predictions=predictions,
                uncertainty=uncertainty,
            )
        )
        task.processed_count += 1
        return True


async def _set_status(runtime: ServiceRuntime, task_id: str, status: str, error: str | None = None) -> None:
    async with runtime.db.session() as session:
        task = await session.get(PrelabelTask, task_id)
        if task is not None:
            task.status, task.error_msg = status, error
            task.started_at = task.started_at or utcnow()
            task.finished_at = utcnow() if status in ("completed", "failed") else None


async def _run_task(runtime: ServiceRuntime, tenant_id: str, task_id: str, stop: asyncio.Event) -> None:
    await _set_status(runtime, task_id, "running")
    try:
        while not stop.is_set() and await _one_sample(runtime, tenant_id, task_id):
            pass
    except TaskFailed as exc:
        log.warning("pre-label task failed", task_id=task_id, error=str(exc))
        await _set_status(runtime, task_id, "failed", str(exc)[:1000])


async def _next(runtime: ServiceRuntime, statuses: tuple[str, ...]) -> tuple[str, str] | None:
    async with runtime.db.session() as session:
        return await next_task_id(session, statuses)


async def run_prelabel_tasks(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Background loop of the labeling service (one task at a time, oldest first)."""
    statuses: tuple[str, ...] = ("running", "pending")  # first round: resume what a stopped process left
    while not stop.is_set():
        try:
            found = await _next(runtime, statuses)
            statuses = ("pending",)
            if found is not None:
                await _run_task(runtime, *found, stop)
                continue
        except Exception as exc:
            log.exception("pre-label round failed", error=repr(exc))
        try:
            await asyncio.wait_for(stop.wait(), timeout=runtime.settings.prelabel_poll_seconds)
        except TimeoutError:
            pass
