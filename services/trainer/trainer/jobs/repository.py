"""Queries on training jobs, scoped to one tenant (the API side)."""

from __future__ import annotations

from shared.db import Page, Repository
from trainer.errors import JobNotFound
from trainer.models import TrainingJob

__all__ = ["TrainingJobRepository"]


class TrainingJobRepository(Repository[TrainingJob]):
    model = TrainingJob
    resource_name = "training job"
    not_found = JobNotFound

    async def search(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        project_id: str | None = None,
        dataset_id: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> Page[TrainingJob]:
        filters = []
        if status is not None:
            filters.append(TrainingJob.status == status)
        if task_type is not None:
            filters.append(TrainingJob.task_type == task_type)
        if project_id is not None:
            filters.append(TrainingJob.project_id == project_id)
        if dataset_id is not None:
            filters.append(TrainingJob.dataset_id == dataset_id)
        return await self.list(
            *filters, offset=offset, limit=limit, order_by=(TrainingJob.created_at.desc(), TrainingJob.id)
        )
