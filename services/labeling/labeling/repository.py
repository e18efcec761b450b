"""Queries of the labeling service, every one scoped to a tenant (and a dataset)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from labeling.errors import LabelNotFound, SampleNotFound
from labeling.models import Annotation, Dataset, Label, Sample
from shared.db import Repository
from shared.errors import DatasetNotFound


class DatasetRepository(Repository[Dataset]):
    model = Dataset
    not_found = DatasetNotFound
    resource_name = "dataset"

    async def get_live(self, dataset_id: str) -> Dataset:
        dataset = await self.find(dataset_id)
        if dataset is None or dataset.deleted:
            raise self.not_found(f"dataset {dataset_id} does not exist")
        return dataset


class SampleRepository(Repository[Sample]):
    model = Sample
    not_found = SampleNotFound
    resource_name = "sample"

    def in_dataset(self, dataset_id: str) -> sa.Select[Sample]:
        return self.scoped().where(Sample.dataset_id == dataset_id)

    async def find_in(
        self, dataset_id: str, sample_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Sample]:
        """The samples by id; with ``lock`` their rows stay locked until commit (one writer per sample)."""
        if not sample_ids:
            return {}
        stmt = self.in_dataset(dataset_id).where(Sample.id.in_(list(sample_ids)))
        if lock:  # in id order, so two batches over the same samples cannot deadlock
            stmt = stmt.order_by(Sample.id).with_for_update()
        found = {s.id: s for s in (await self.session.execute(stmt)).scalars()}
        return {sid: found[sid] for sid in dict.fromkeys(sample_ids) if sid in found}

    async def existing_ids(self, sample_ids: Sequence[str]) -> set[str]:
        """Ids already known, whichever tenant (sample ids are global)."""
        if not sample_ids:
            return set()
        rows = await self.session.execute(sa.select(Sample.id).where(Sample.id.in_(list(sample_ids))))
        return set(rows.scalars())

    async def count(self, dataset_id: str) -> int:
        stmt = sa.select(sa.func.count()).select_from(self.in_dataset(dataset_id).subquery())
        return int(await self.session.scalar(stmt) or 0)

    async def labeled_counts(self, dataset_id: str) -> tuple[int, int]:
        """``(samples, labeled samples)`` in one statement: one snapshot, so labeled never exceeds the total
        (two queries let an import committing between them count its annotations but not its samples)."""
        annotated = sa.exists().where(Annotation.sample_id == Sample.id)
        stmt = sa.select(sa.func.count(), sa.func.sum(sa.case((annotated, 1), else_=0))).where(
            Sample.tenant_id == self.tenant_id, Sample.dataset_id == dataset_id
        )
        total, labeled = (await self.session.execute(stmt)).one()
        return int(total or 0), int(labeled or 0)

    async def delete_ids(self, dataset_id: str, sample_ids: Sequence[str]) -> None:
        await self.session.execute(
            sa.delete(Sample).where(
                Sample.tenant_id == self.tenant_id,
                Sample.dataset_id == dataset_id,
                Sample.id.in_(list(sample_ids)),
            )
        )

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.session.execute(
            sa.delete(Sample).where(Sample.tenant_id == self.tenant_id, Sample.dataset_id == dataset_id)
        )


class LabelRepository(Repository[Label]):
    model = Label
    not_found = LabelNotFound
    resource_name = "label"

    def in_dataset(self, dataset_id: str) -> sa.Select[Label]:
        return self.scoped().where(Label.dataset_id == dataset_id)

    async def all(self, dataset_id: str) -> list[Label]:
        rows = await self.session.execute(self.in_dataset(dataset_id).order_by(Label.created_at, Label.name))
        return list(rows.scalars())

    async def by_names(self, dataset_id: str, names: Iterable[str]) -> dict[str, Label]:
        names = list(set(names))
        if not names:
            return {}
        rows = await self.session.execute(self.in_dataset(dataset_id).where(Label.name.in_(names)))
        return {label.name: label for label in rows.scalars()}

    async def by_name(self, dataset_id: str, name: str) -> Label | None:
        return (await self.by_names(dataset_id, [name])).get(name)

    async def by_shortcut(self, dataset_id: str, shortcut: str) -> Label | None:
        rows = await self.session.execute(self.in_dataset(dataset_id).where(Label.shortcut == shortcut))
        return rows.scalars().first()

    async def count(self, dataset_id: str) -> int:
        stmt = sa.select(sa.func.count()).select_from(self.in_dataset(dataset_id).subquery())
        return int(await self.session.scalar(stmt) or 0)

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.session.execute(
            sa.delete(Label).where(Label.tenant_id == self.tenant_id, Label.dataset_id == dataset_id)
        )


class AnnotationRepository(Repository[Annotation]):
    model = Annotation

    def _where(self, dataset_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (Annotation.tenant_id == self.tenant_id, Annotation.dataset_id == dataset_id)

    async def with_labels(
        self, dataset_id: str, sample_ids: Sequence[str] | None = None
    ) -> list[tuple[Annotation, Label]]:
        """Annotations with their label, in a stable order (sample, creation)."""
        stmt = (
            sa.select(Annotation, Label)
            .join(Label, Label.id == Annotation.label_id)
            .where(*self._where(dataset_id))
            .order_by(Annotation.sample_id, Annotation.created_at, Annotation.id)
        )
        if sample_ids is not None:
            stmt = stmt.where(Annotation.sample_id.in_(list(sample_ids)))
        return [(a, lbl) for a, lbl in (await self.session.execute(stmt)).all()]

    async def label_names(self, dataset_id: str, sample_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each sample's distinct label names (sorted); samples without annotations map to ``[]``."""
        out: dict[str, set[str]] = defaultdict(set)
        if sample_ids:
            stmt = (
                sa.select(Annotation.sample_id, Label.name)
                .join(Label, Label.id == Annotation.label_id)
                .where(*self._where(dataset_id), Annotation.sample_id.in_(list(sample_ids)))
            )
            for sample_id, name in (await self.session.execute(stmt)).all():
                out[sample_id].add(name)
        return {sid: sorted(out.get(sid, ())) for sid in sample_ids}

    async def samples_with_label(self, dataset_id: str, label_id: str) -> list[str]:
        stmt = sa.select(Annotation.sample_id).where(
            *self._where(dataset_id), Annotation.label_id == label_id
        )
        return sorted(set((await self.session.execute(stmt.distinct())).scalars()))

    async def samples_only_with_label(self, dataset_id: str, label_id: str) -> list[str]:
        """Samples whose every annotation carries this label (policy 1/2 of a label deletion)."""
        mine = aliased(Annotation, name="mine")
        other = sa.select(Annotation.id).where(
            *self._where(dataset_id), Annotation.label_id != label_id, Annotation.sample_id == mine.sample_id
        )
        stmt = (
            sa.select(mine.sample_id)
            .where(mine.tenant_id == self.tenant_id, mine.dataset_id == dataset_id, mine.label_id == label_id)
            .where(~other.exists())
            .distinct()
        )
        return sorted((await self.session.execute(stmt)).scalars())

    async def delete_for_samples(
        self, dataset_id: str, sample_ids: Sequence[str], label_id: str | None = None
    ) -> None:
        stmt = sa.delete(Annotation).where(
            *self._where(dataset_id), Annotation.sample_id.in_(list(sample_ids))
        )
        if label_id is not None:
            stmt = stmt.where(Annotation.label_id == label_id)
        await self.session.execute(stmt)

    async def delete_for_label(self, dataset_id: str, label_id: str) -> None:
        await self.session.execute(
            sa.delete(Annotation).where(*self._where(dataset_id), Annotation.label_id == label_id)
        )

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.session.execute(sa.delete(Annotation).where(*self._where(dataset_id)))

    async def label_counts(self, dataset_id: str) -> dict[str, tuple[int, int]]:
        """label id → (objects, samples)."""
        stmt = (
            sa.select(
                Annotation.label_id,
                sa.func.count(Annotation.id),
                sa.func.count(sa.distinct(Annotation.sample_id)),
            )
            .where(*self._where(dataset_id))
            .group_by(Annotation.label_id)
        )
        return {lid: (int(n), int(s)) for lid, n, s in (await self.session.execute(stmt)).all()}
