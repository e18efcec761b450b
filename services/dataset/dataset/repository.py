"""Queries of the dataset service, always scoped to one tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dataset.errors import ImportTaskNotFound, SampleNotFound, VersionNotFound
from dataset.models import (
    UNFINISHED_TASKS,
    Dataset,
    DatasetVersion,
    DeletedSource,
    ImportTask,
    Sample,
    SampleLabel,
)
from shared.db import Page, Repository
from shared.db.base import utcnow
from shared.db.search import contains, starts_with
from shared.errors import DatasetNotFound

__all__ = [
    "DatasetRepository",
    "ImportTaskRepository",
    "SampleFilter",
    "SampleRepository",
    "VersionRepository",
]


class DatasetRepository(Repository[Dataset]):
    model = Dataset
    not_found = DatasetNotFound
    resource_name = "dataset"

    async def by_name(self, name: str) -> Dataset | None:
        return (await self.session.execute(self.scoped().where(Dataset.name == name))).scalar_one_or_none()

    async def counts(self, dataset_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """``{dataset_id: (samples, labeled, table rows)}``."""
        if not dataset_ids:
            return {}
        stmt = (
            sa.select(
                Sample.dataset_id,
                sa.func.count(),
                sa.func.sum(sa.case((Sample.labeled, 1), else_=0)),
                sa.func.sum(Sample.row_count),
            )
            .where(Sample.tenant_id == self.tenant_id, Sample.dataset_id.in_(dataset_ids))
            .group_by(Sample.dataset_id)
        )
        rows = (await self.session.execute(stmt)).all()
        return {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}

    async def table_rows(self, dataset_id: str) -> int:
        """The rows of the dataset's table so far (its CSV parts together)."""
        return (await self.counts([dataset_id])).get(dataset_id, (0, 0, 0))[2]


class SampleFilter:
    def __init__(
        self,
        labeled: bool | None = None,
        label_name: str | None = None,
        usage: str | None = None,
        search: str | None = None,
        sample_type: int | None = None,
    ) -> None:
        self.labeled, self.label_name, self.usage = labeled, label_name, usage
        self.search, self.sample_type = search, sample_type

    def where(self, dataset_id: str) -> list[Any]:
        clauses: list[Any] = [Sample.dataset_id == dataset_id]
        if self.labeled is not None:
            clauses.append(Sample.labeled.is_(self.labeled))
        if self.label_name:
            has = sa.select(SampleLabel.sample_id).where(
                SampleLabel.dataset_id == dataset_id, SampleLabel.name == self.label_name
            )
            clauses.append(Sample.id.in_(has))
        if self.usage:
            clauses.append(Sample.usage == self.usage.upper())
        if self.search:
            clauses.append(contains(Sample.name, self.search))
        if self.sample_type is not None:
            clauses.append(Sample.sample_type == self.sample_type)
        return clauses


_SORT = {"create_time": Sample.created_at, "sample_name": Sample.name, "sample_size": Sample.size}


class SampleRepository(Repository[Sample]):
    model = Sample
    not_found = SampleNotFound
    resource_name = "sample"

    async def page(
        self, dataset_id: str, flt: SampleFilter, *, offset: int, limit: int, sort_by: str, order: str
    ) -> Page[Sample]:
        column = _SORT.get(sort_by, Sample.created_at)
        direction = column.asc() if order == "asc" else column.desc()
        tie = Sample.id.asc() if order == "asc" else Sample.id.desc()
        where = [Sample.tenant_id == self.tenant_id, *flt.where(dataset_id)]
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(Sample).where(*where))
        rows = await self.session.execute(
            sa.select(Sample).where(*where).order_by(direction, tie).offset(offset).limit(limit)
        )
        return Page(rows.scalars().all(), int(total or 0))

    async def index_labels(self, samples: Sequence[Sample]) -> None:
        """Add the ``sample_labels`` rows of new samples (their ``labels`` list)."""
        rows = [
            {"sample_id": s.id, "name": n, "dataset_id": s.dataset_id}
            for s in samples
            for n in s.labels or []
        ]
        if rows:
            await self.session.execute(sa.insert(SampleLabel), rows)

    async def source_keys(self, dataset_id: str) -> set[str]:
        stmt = sa.select(Sample.source_key).where(
            Sample.tenant_id == self.tenant_id, Sample.dataset_id == dataset_id
        )
        return set((await self.session.execute(stmt)).scalars())

    async def in_dataset(self, dataset_id: str, ids: Iterable[str]) -> list[Sample]:
        stmt = self.scoped().where(Sample.dataset_id == dataset_id, Sample.id.in_(list(ids)))
        return list((await self.session.execute(stmt)).scalars())

    async def all_of(self, dataset_id: str) -> list[Sample]:
        stmt = self.scoped().where(Sample.dataset_id == dataset_id).order_by(Sample.created_at, Sample.id)
        return list((await self.session.execute(stmt)).scalars())

    async def set_labels(
        self, dataset_id: str, sample_id: str, names: Sequence[str], as_of: datetime
    ) -> bool:
        """Make ``names`` the sample's labels unless a newer change (``as_of`` later) was applied already.

        Events may be handled concurrently and out of order; the conditional update takes the row lock first,
        so of two racing changes the newer one wins whatever the commit order.
        """
        unique = sorted(dict.fromkeys(n for n in names if n))
        newer = sa.or_(Sample.labels_changed_at.is_(None), Sample.labels_changed_at < as_of)
        result = await self.session.execute(
            sa.update(Sample)
            .where(Sample.id == sample_id, Sample.tenant_id == self.tenant_id, newer)
            .values(labeled=bool(unique), labels=unique, labels_changed_at=as_of)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:  # a CursorResult: UPDATE reports the rows it matched
            return False
        await self.session.execute(sa.delete(SampleLabel).where(SampleLabel.sample_id == sample_id))
        if unique:
            await self.session.execute(
                sa.insert(SampleLabel),
                [{"sample_id": sample_id, "name": n, "dataset_id": dataset_id} for n in unique],
            )
        return True

    async def _refresh_labels(self, dataset_id: str, sample_ids: Sequence[str]) -> None:
        """Rewrite the label list on the rows of ``sample_ids`` from ``sample_labels``."""
        if not sample_ids:
            return
        rows = await self.session.execute(
            sa.select(SampleLabel.sample_id, SampleLabel.name).where(
                SampleLabel.dataset_id == dataset_id, SampleLabel.sample_id.in_(sample_ids)
            )
        )
        names: dict[str, list[str]] = {i: [] for i in sample_ids}
        for sample_id, name in rows.all():
            names[sample_id].append(name)
        for sample_id, labels in names.items():
            await self.session.execute(
                sa.update(Sample)
                .where(Sample.id == sample_id, Sample.tenant_id == self.tenant_id)
                .values(labels=sorted(labels), labeled=bool(labels))
            )

    async def _carrying(self, dataset_id: str, name: str) -> list[str]:
        stmt = sa.select(SampleLabel.sample_id).where(
            SampleLabel.dataset_id == dataset_id, SampleLabel.name == name
        )
        return list((await self.session.execute(stmt)).scalars())

    async def rename_label(self, dataset_id: str, old: str, new: str) -> None:
        affected = await self._carrying(dataset_id, old)
        having_new = sa.select(SampleLabel.sample_id).where(
            SampleLabel.dataset_id == dataset_id, SampleLabel.name == new
        )
        await self.session.execute(
            sa.delete(SampleLabel).where(
                SampleLabel.dataset_id == dataset_id,
                SampleLabel.name == old,
                SampleLabel.sample_id.in_(having_new),
            )
        )
        await self.session.execute(
            sa.update(SampleLabel)
            .where(SampleLabel.dataset_id == dataset_id, SampleLabel.name == old)
            .values(name=new)
        )
        await self._refresh_labels(dataset_id, affected)

    async def remove_label(self, dataset_id: str, name: str) -> None:
        affected = await self._carrying(dataset_id, name)
        await self.session.execute(
            sa.delete(SampleLabel).where(SampleLabel.dataset_id == dataset_id, SampleLabel.name == name)
        )
        await self._refresh_labels(dataset_id, affected)

    async def delete_for_good(self, dataset_id: str, samples: Sequence[Sample]) -> None:
        """Delete ``samples`` and remember their source keys, so no later import brings them back."""
        keys = sorted({s.source_key for s in samples})
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            await self.session.execute(
                sa.delete(DeletedSource).where(
                    DeletedSource.dataset_id == dataset_id, DeletedSource.source_key.in_(chunk)
                )
            )
            now = utcnow()
            rows = [
                {"tenant_id": self.tenant_id, "dataset_id": dataset_id, "source_key": k, "deleted_at": now}
                for k in chunk
            ]
            await self.session.execute(sa.insert(DeletedSource), rows)
        await self.delete_ids(sorted(s.id for s in samples))

    async def deleted_files(self, dataset_id: str) -> set[str]:
        """The files (text: the file of a line) of the samples deleted from the dataset."""
        stmt = sa.select(DeletedSource.source_key).where(
            DeletedSource.tenant_id == self.tenant_id, DeletedSource.dataset_id == dataset_id
        )
        return {k.split("#", 1)[0] for k in (await self.session.execute(stmt)).scalars()}

    async def forget_deleted(self, dataset_id: str, files: Iterable[str]) -> None:
        """Files the user uploads again are new samples: their earlier deletion no longer applies."""
        for uri in sorted(set(files)):
            await self.session.execute(
                sa.delete(DeletedSource).where(
                    DeletedSource.tenant_id == self.tenant_id,
                    DeletedSource.dataset_id == dataset_id,
                    sa.or_(DeletedSource.source_key == uri, starts_with(DeletedSource.source_key, f"{uri}#")),
                )
            )

    async def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            await self.session.execute(sa.delete(SampleLabel).where(SampleLabel.sample_id.in_(ids)))
            await self.session.execute(
                sa.delete(Sample).where(Sample.tenant_id == self.tenant_id, Sample.id.in_(ids))
            )

    async def set_usage(self, dataset_id: str, usage_by_id: dict[str, str]) -> None:
        # The rows locked in id order first, the order the annotation consumers lock them in: a bulk update
        # alone locks them in scan order and deadlocked with a consumer labeling the same samples.
        await self.session.execute(
            sa.select(Sample.id)
            .where(Sample.tenant_id == self.tenant_id, Sample.dataset_id == dataset_id)
            .order_by(Sample.id)
            .with_for_update()
        )
        await self.session.execute(
            sa.update(Sample)
            .where(Sample.tenant_id == self.tenant_id, Sample.dataset_id == dataset_id)
            .values(usage=None)
        )
        for usage in ("TRAIN", "EVAL"):
            ids = [i for i, u in usage_by_id.items() if u == usage]
            for start in range(0, len(ids), 1000):
                await self.session.execute(
                    sa.update(Sample).where(Sample.id.in_(ids[start : start + 1000])).values(usage=usage)
                )

    async def count_referencing(self, dataset_id: str, source: str) -> int:
        stmt = sa.select(sa.func.count()).where(
            Sample.tenant_id == self.tenant_id,
            Sample.dataset_id == dataset_id,
            starts_with(Sample.source_key, f"{source}#"),
        )
        return int(await self.session.scalar(stmt) or 0)


class ImportTaskRepository(Repository[ImportTask]):
    model = ImportTask
    not_found = ImportTaskNotFound
    resource_name = "import task"

    async def running(self, dataset_id: str) -> ImportTask | None:
        stmt = self.scoped().where(
            ImportTask.dataset_id == dataset_id, ImportTask.status.in_(UNFINISHED_TASKS)
        )
        return (await self.session.execute(stmt.limit(1))).scalar_one_or_none()


class VersionRepository(Repository[DatasetVersion]):
    model = DatasetVersion
    not_found = VersionNotFound
    resource_name = "dataset version"

    async def names(self, dataset_id: str) -> list[str]:
        stmt = sa.select(DatasetVersion.name).where(
            DatasetVersion.tenant_id == self.tenant_id, DatasetVersion.dataset_id == dataset_id
        )
        return list((await self.session.execute(stmt)).scalars())

    async def of_dataset(self, dataset_id: str, version_id: str) -> DatasetVersion:
        version = await self.get(version_id)
        if version.dataset_id != dataset_id:
            await self.get("")  # same 404 as a missing version
        return version
