"""Handlers of other services' events that the trainer service reacts to."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.dataset import DatasetDeleted, VersionPublished
from shared.messaging import Envelope, EventConsumer
from trainer.versions import PublishedVersionRepository, record_published_version


def register_consumers(consumer: EventConsumer) -> None:
    """Keep the read model of published dataset versions."""

    @consumer.handler(VersionPublished, name="trainer.versions.published")
    async def on_version_published(session: AsyncSession, envelope: Envelope[dict[str, Any]]) -> None:
        await record_published_version(session, envelope.tenantid, VersionPublished.model_validate(envelope.data))

    @consumer.handler(DatasetDeleted, name="trainer.versions.dataset_deleted")
    async def on_dataset_deleted(session: AsyncSession, envelope: Envelope[dict[str, Any]]) -> None:
        event = DatasetDeleted.model_validate(envelope.data)
        await PublishedVersionRepository(session, envelope.tenantid).delete_dataset(event.dataset_id)
