"""Queries of pre-label tasks and suggestions, scoped to a tenant."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from labeling.errors import PrelabelTaskNotFound, SuggestionNotFound
from labeling.models import Annotation, PrelabelTask, Sample, Suggestion
from shared.db import Page, Repository


class PrelabelTaskRepository(Repository[PrelabelTask]):
    model = PrelabelTask
    not_found = PrelabelTaskNotFound
    resource_name = "pre-label task"

    async def get_in(self, dataset_id: str, task_id: str) -> PrelabelTask:
        task = await self.find(task_id)
        if task is None or task.dataset_id != dataset_id:
            raise PrelabelTaskNotFound(f"pre-label task {task_id} does not exist in dataset {dataset_id}")
        return task


async def next_task_id(session, statuses: Sequence[str]) -> tuple[str, str] | None:
    """(tenant, id) of the oldest task in one of ``statuses``, whichever tenant (the runner's claim)."""
    stmt = (
        sa.select(PrelabelTask.tenant_id, PrelabelTask.id)
        .where(PrelabelTask.status.in_(list(statuses)))
        .order_by(PrelabelTask.created_at)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


class SuggestionRepository(Repository[Suggestion]):
    model = Suggestion
    not_found = SuggestionNotFound
    resource_name = "suggestion"

    async def for_sample(self, dataset_id: str, sample_id: str) -> Suggestion | None:
        stmt = self.scoped().where(Suggestion.dataset_id == dataset_id, Suggestion.sample_id == sample_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, dataset_id: str, order: str, offset: int, limit: int
    ) -> Page[tuple[Suggestion, str]]:
        """Suggestions with their sample's name; ``order`` ``uncertainty`` puts the hardest first."""
        where = (Suggestion.tenant_id == self.tenant_id, Suggestion.dataset_id == dataset_id)
        total = await self.session.scalar(sa.select(sa.func.count(Suggestion.id)).where(*where))
        by = (Suggestion.uncertainty.desc(), Sample.name) if order == "uncertainty" else (Sample.name,)
        stmt = (
            sa.select(Suggestion, Sample.name)
            .join(Sample, Sample.id == Suggestion.sample_id)
            .where(*where)
            .order_by(*by, Suggestion.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return Page([(s, name) for s, name in rows], int(total or 0))

    async def delete_for_samples(self, dataset_id: str, sample_ids: Sequence[str]) -> None:
        if sample_ids:
            await self.session.execute(
                sa.delete(Suggestion).where(
                    Suggestion.tenant_id == self.tenant_id,
                    Suggestion.dataset_id == dataset_id,
                    Suggestion.sample_id.in_(list(sample_ids)),
                )
            )

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.session.execute(
            sa.delete(Suggestion).where(
                Suggestion.tenant_id == self.tenant_id, Suggestion.dataset_id == dataset_id
            )
        )


async def unlabeled_sample_ids(session, tenant_id: str, dataset_id: str, limit: int) -> list[str]:
    """The dataset's samples without any annotation, oldest first."""
    labeled = sa.select(Annotation.id).where(
        Annotation.tenant_id == tenant_id, Annotation.sample_id == Sample.id
    )
    stmt = (
        sa.select(Sample.id)
        .where(Sample.tenant_id == tenant_id, Sample.dataset_id == dataset_id)
        .where(~labeled.exists())
        .order_by(Sample.created_at, Sample.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
