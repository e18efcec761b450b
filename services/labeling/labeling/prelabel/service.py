"""Pre-label tasks (create, read) and suggestions (list, accept, reject) of one tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from labeling.annotations import AnnotationService
from labeling.errors import ServiceUnfit, SuggestionNotFound
from labeling.models import Dataset, PrelabelTask, Suggestion
from labeling.prelabel.repository import PrelabelTaskRepository, SuggestionRepository, unlabeled_sample_ids
from labeling.prelabel.schemas import (
    PrelabelTaskCreate,
    PrelabelTaskList,
    PrelabelTaskRead,
    SuggestionAccept,
    SuggestionList,
    SuggestionRead,
)
from labeling.repository import DatasetRepository
from labeling.rules import labeling_supported
from labeling.schemas import AnnotationIn, SampleAnnotations
from shared.errors import ErrorDetail, InvalidInput
from shared.events.dataset import DATASET_TYPES
from shared.messaging import Outbox
from shared.service.peers import Peers


def task_read(task: PrelabelTask) -> PrelabelTaskRead:
    return PrelabelTaskRead(
        task_id=task.id,
        dataset_id=task.dataset_id,
        service_id=task.service_id,
        status=task.status,
        total_sample_count=len(task.sample_ids),
        processed_sample_count=task.processed_count,
        failed_sample_count=task.failed_count,
        error_msg=task.error_msg,
        create_time=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def suggestion_read(suggestion: Suggestion, sample_name: str) -> SuggestionRead:
    return SuggestionRead(
        sample_id=suggestion.sample_id,
        sample_name=sample_name,
        task_id=suggestion.task_id,
        predictions=suggestion.predictions,
        uncertainty=suggestion.uncertainty,
        create_time=suggestion.created_at,
    )


def _service_errors(service: dict[str, Any], dataset: Dataset) -> list[ErrorDetail]:
    """The service must be running and serve a model of the dataset's type."""
    if service.get("status") != "running":
        return [
            ErrorDetail(
                rule="service_not_running",
                field="service_id",
                value=service.get("status"),
                msg=f"service {service.get('service_id')} is {service.get('status')}: start it first",
            )
        ]
    wanted = DATASET_TYPES[dataset.dataset_type]
    types = {c.get("task_type") for c in service.get("config", [])}
    if types != {wanted}:
        return [
            ErrorDetail(
                rule="service_task_type",
                field="service_id",
                value=sorted(map(str, types)),
                msg=f"the service predicts {', '.join(sorted(map(str, types)))}, the dataset is {wanted}",
            )
        ]
    return []


class PrelabelService:
    def __init__(self, session: AsyncSession, outbox: Outbox, tenant_id: str) -> None:
        self.session, self.outbox, self.tenant_id = session, outbox, tenant_id
        self.datasets = DatasetRepository(session, tenant_id)
        self.tasks = PrelabelTaskRepository(session, tenant_id)
        self.suggestions = SuggestionRepository(session, tenant_id)

    async def create(self, dataset_id: str, body: PrelabelTaskCreate, peers: Peers) -> PrelabelTaskRead:
        dataset = await self.datasets.get_live(dataset_id)
        if errors := labeling_supported(dataset.dataset_type):
            raise InvalidInput(errors[0].msg, details=errors)
        service = await peers.get_json(
            "inference", f"/v1/services/{body.service_id}", tenant_id=self.tenant_id
        )
        if errors := _service_errors(service, dataset):
            raise ServiceUnfit(errors[0].msg, details=errors)
        if body.sample_ids is not None:
            await AnnotationService(self.session, self.outbox, self.tenant_id).existing_samples(
                dataset, body.sample_ids, lock=False
            )
            sample_ids = list(dict.fromkeys(body.sample_ids))
        else:
            sample_ids = await unlabeled_sample_ids(
                self.session, self.tenant_id, dataset.id, body.max_samples
            )
        if not sample_ids:
            raise InvalidInput(
                "the dataset has no unlabeled sample to pre-label",
                details=[
                    ErrorDetail(
                        rule="no_unlabeled_samples", field="sample_ids", msg="every sample is labeled already"
                    )
                ],
            )
        task = await self.tasks.add(
            PrelabelTask(
                dataset_id=dataset.id, service_id=body.service_id, status="pending", sample_ids=sample_ids
            )
        )
        return task_read(task)

    async def get(self, dataset_id: str, task_id: str) -> PrelabelTaskRead:
        await self.datasets.get_live(dataset_id)
        return task_read(await self.tasks.get_in(dataset_id, task_id))

    async def list(self, dataset_id: str, offset: int, limit: int) -> PrelabelTaskList:
        await self.datasets.get_live(dataset_id)
        page = await self.tasks.list(PrelabelTask.dataset_id == dataset_id, offset=offset, limit=limit)
        return PrelabelTaskList(items=[task_read(t) for t in page.items], total=page.total)

    async def list_suggestions(self, dataset_id: str, order: str, offset: int, limit: int) -> SuggestionList:
        await self.datasets.get_live(dataset_id)
        page = await self.suggestions.page(dataset_id, order, offset, limit)
        return SuggestionList(items=[suggestion_read(s, name) for s, name in page.items], total=page.total)

    async def _suggestion(self, dataset_id: str, sample_id: str) -> Suggestion:
        await self.datasets.get_live(dataset_id)
        suggestion = await self.suggestions.for_sample(dataset_id, sample_id)
        if suggestion is None:
            raise SuggestionNotFound(f"sample {sample_id} has no suggestion")
        return suggestion

    async def accept(
        self, dataset_id: str, sample_id: str, body: SuggestionAccept | None
    ) -> SampleAnnotations:
        """The suggestion (or the person's correction of it) becomes the sample's annotations."""
        suggestion = await self._suggestion(dataset_id, sample_id)
        if body is not None and body.annotations is not None:
            annotations = body.annotations
        else:
            annotations = [
                AnnotationIn(name=p["name"], bndbox=p.get("bndbox")) for p in suggestion.predictions
            ]
        # Writing annotations drops the sample's suggestion (labeling.annotations.write_annotations).
        return await AnnotationService(self.session, self.outbox, self.tenant_id).replace(
            dataset_id, sample_id, annotations
        )

    async def reject(self, dataset_id: str, sample_id: str) -> None:
        await self.suggestions.delete(await self._suggestion(dataset_id, sample_id))
