"""Dataset versions: publish (asynchronous), list, get, delete, check."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from dataset import tasks
from dataset.checks import check_version
from dataset.config import Settings
from dataset.errors import NothingToPublish, VersionBeingPublished, VersionExists, VersionNotPublished
from dataset.models import UNFINISHED_VERSIONS, Dataset, DatasetStatus, DatasetVersion, VersionStatus
from dataset.publish import annotation_snapshot, labeled_annotations, run_publish, version_folder
from dataset.repository import DatasetRepository, VersionRepository
from dataset.schemas import CheckReport, VersionCreate, VersionRead
from dataset.types import KINDS
from shared.db import Page
from shared.db.base import utcnow
from shared.errors import ErrorDetail
from shared.events.dataset import VersionChecked
from shared.service import ServiceRuntime

__all__ = ["VersionService", "version_read"]

_AUTO_NAME = re.compile(r"^V(\d{3,})$")


def version_read(v: DatasetVersion) -> VersionRead:
    return VersionRead(
        version_id=v.id,
        version_name=v.name,
        dataset_id=v.dataset_id,
        description=v.description,
        status=v.status,
        train_evaluate_sample_ratio=v.train_ratio,
        manifest_path=v.manifest_uri,
        total_sample_count=v.sample_count,
        train_sample_count=v.train_count,
        eval_sample_count=v.eval_count,
        labels=list(v.labels or []),
        statistics=dict(v.statistics or {}),
        table_schema=v.table_schema,
        label_column=v.label_column,
        error_msg=v.error_msg,
        check_result=v.check_result,
        create_time=v.created_at,
    )


def next_version_name(existing: list[str]) -> str:
    numbers = [int(m.group(1)) for n in existing if (m := _AUTO_NAME.match(n))]
    return f"V{max(numbers, default=0) + 1:03d}"


class VersionService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.datasets = DatasetRepository(session, tenant_id)
        self.versions = VersionRepository(session, tenant_id)

    async def publish(self, dataset_id: str, body: VersionCreate) -> VersionRead:
        ds = await self.datasets.get(dataset_id)
        # The version is written to the work path: refused now (403) if the tenant may no longer name it.
        version_folder(self.runtime.tenant_storage(self.tenant_id), ds, body.version_name or "V001")
        names = await self.versions.names(ds.id)
        name = body.version_name or next_version_name(names)
        if name in names:
            raise VersionExists(
                f"version {name} already exists",
                details=[
                    ErrorDetail(
                        "version_name_unique",
                        "version names are unique within a dataset",
                        field="version_name",
                    )
                ],
            )
        if ds.status == DatasetStatus.PUBLISHING:
            raise VersionBeingPublished("a version of this dataset is being published")
        await self._require_samples(ds)
        version = DatasetVersion(
            dataset_id=ds.id,
            name=name,
            description=body.description,
            train_ratio=str(body.train_evaluate_sample_ratio),
            status=VersionStatus.QUEUED,
            labels=[],
            statistics={},
            label_column=ds.label_column,
        )
        await self.versions.add(version)
        ds.status = DatasetStatus.PUBLISHING
        runtime, tenant_id, version_id = self.runtime, self.tenant_id, version.id
        tasks.start_after_commit(
            self.session,
            runtime,
            lambda: run_publish(runtime, tenant_id, version_id),
            f"publish-{version_id}",
        )
        return version_read(version)

    async def _require_samples(self, ds: Dataset) -> None:
        counts = (await self.datasets.counts([ds.id])).get(ds.id, (0, 0, 0))
        have = counts[0] if ds.dataset_type == 400 else counts[1] or await self._labeled_at_labeling(ds)
        if not have:
            what = "samples" if ds.dataset_type == 400 else "labeled samples"
            raise NothingToPublish(
                f"the dataset has no {what} to publish",
                details=[ErrorDetail("no_samples", f"import or label data before publishing (no {what})")],
            )

    async def _labeled_at_labeling(self, ds: Dataset) -> int:
        """Labeling's own count of labeled samples. The local read model follows labeling's events and may
        not hold yet what labeling has acknowledged; the publish freezes labeling's snapshot, so its
        precondition reads the same source (read-your-writes across labeling → publish, ADR 0017)."""
        snapshot = await annotation_snapshot(self.runtime, self.tenant_id, ds.id)
        return len(labeled_annotations(KINDS[ds.dataset_type], snapshot))

    async def list(self, dataset_id: str, *, offset: int, limit: int) -> Page[VersionRead]:
        await self.datasets.get(dataset_id)
        page = await self.versions.list(DatasetVersion.dataset_id == dataset_id, offset=offset, limit=limit)
        return Page([version_read(v) for v in page.items], page.total)

    async def get(self, dataset_id: str, version_id: str) -> DatasetVersion:
        await self.datasets.get(dataset_id)
        return await self.versions.of_dataset(dataset_id, version_id)

    async def delete(self, dataset_id: str, version_id: str) -> None:
        version = await self.get(dataset_id, version_id)
        if version.status in UNFINISHED_VERSIONS:
            raise VersionBeingPublished("the version is being published")
        ds = await self.datasets.get(dataset_id)
        await self.versions.delete(version)
        storage = self.runtime.tenant_storage(self.tenant_id)
        await storage.delete_prefix(version_folder(storage, ds, version.name))

    async def check(self, dataset_id: str, version_id: str) -> CheckReport:
        """Evaluate the per-type rules on the frozen version; store the report and announce it."""
        version = await self.get(dataset_id, version_id)
        if version.status != VersionStatus.NORMAL:
            raise VersionNotPublished(
                f"version {version.name} is {version.status}; only published versions can be checked"
            )
        ds = await self.datasets.get(dataset_id)
        violations = check_version(
            ds.dataset_type,
            version.statistics or {},
            version.label_column,
            self.runtime.settings.check_thresholds,
        )
        passed = not any(v.level == "error" for v in violations)
        report = CheckReport(version_id=version.id, passed=passed, violations=violations, checked_at=utcnow())
        version.check_result = report.model_dump(mode="json")
        await self.session.flush()
        await self.runtime.outbox.add(
            self.session,
            VersionChecked(dataset_id=ds.id, version_id=version.id, passed=passed, violations=violations),
            subject=ds.id,
            tenant_id=self.tenant_id,
        )
        return report
