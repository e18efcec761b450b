"""Handlers of other services' events that the trainer service reacts to."""

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.dataset import DatasetDeleted, VersionPublished
from shared.messaging import Envelope, HandlerRegistry
from trainer.versions import PublishedVersionRepository, record_published_version


def register_consumers(consumer: HandlerRegistry) -> None:
    """Keep the read model of published dataset versions."""

    @consumer.handler(VersionPublished, name="trainer.versions.published")
    async def on_version_published(session: AsyncSession, envelope: Envelope[VersionPublished]) -> None:
        await record_published_version(session, envelope.tenantid, envelope.data)

    @consumer.handler(DatasetDeleted, name="trainer.versions.dataset_deleted")
    async def on_dataset_deleted(session: AsyncSession, envelope: Envelope[DatasetDeleted]) -> None:
        await PublishedVersionRepository(session, envelope.tenantid).delete_dataset(envelope.data.dataset_id)
