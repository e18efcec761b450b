"""The read model of published dataset versions, fed by ``dataset.version.published.v1``.

The trainer never reads the dataset service's tables: a job may only name a version this read model
knows, for the same tenant. The event carries everything a worker needs to read the version.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Repository
from shared.errors import DatasetNotFound
from shared.events.dataset import VersionPublished
from trainer.models import PublishedVersion

__all__ = ["TASK_TYPE_OF_DATASET", "PublishedVersionRepository", "record_published_version"]

# Dataset type name (shared.events.dataset.DATASET_TYPES) -> the task type a job trains on it.
TASK_TYPE_OF_DATASET = {
    "image_classification": "image_classification",
    "object_detection": "object_detection",
    "text_classification": "text_classification",
    "sound_classification": "sound_classification",
    "table": "predictive_analytics",
}


class PublishedVersionRepository(Repository[PublishedVersion]):
    model = PublishedVersion
    resource_name = "dataset version"
    not_found = DatasetNotFound

    async def find_version(self, version_id: str) -> PublishedVersion | None:
        stmt = self.scoped().where(PublishedVersion.version_id == version_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.session.execute(
            sa.delete(PublishedVersion).where(
                PublishedVersion.tenant_id == self.tenant_id, PublishedVersion.dataset_id == dataset_id
            )
        )


async def record_published_version(session: AsyncSession, tenant_id: str, event: VersionPublished) -> None:
    """Insert or refresh the version (a redelivered or re-sent event leaves one row)."""
    repo = PublishedVersionRepository(session, tenant_id)
    row = await repo.find_version(event.version_id)
    if row is None:
        row = await repo.add(PublishedVersion(version_id=event.version_id, **_fields(event)))
        return
    for key, value in _fields(event).items():
        setattr(row, key, value)
    await session.flush()


def _fields(event: VersionPublished) -> dict:
    return {
        "dataset_id": event.dataset_id,
        "version_name": event.version_name,
        "dataset_type": event.dataset_type,
        "dataset_type_name": event.dataset_type_name,
        "manifest_uri": event.manifest_uri,
        "train_ratio": event.train_ratio,
        "sample_count": event.sample_count,
        "train_count": event.train_count,
        "eval_count": event.eval_count,
        "labels": list(event.labels),
        "label_column": event.label_column,
        "table_schema": event.table_schema,
    }
