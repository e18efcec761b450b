"""Handlers of the labeling service's events: the labeled/unlabeled state and label names of samples."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dataset.models import Sample
from dataset.repository import DatasetRepository, SampleRepository
from shared.events.dataset import SamplesDeleted
from shared.events.labeling import AnnotationsChanged, LabelDeleted, LabelRenamed
from shared.messaging import Envelope, HandlerRegistry, Outbox

__all__ = ["register_consumers"]


async def _dataset_exists(session: AsyncSession, tenant_id: str, dataset_id: str) -> bool:
    return await DatasetRepository(session, tenant_id).find(dataset_id) is not None


async def on_annotations_changed(session: AsyncSession, envelope: Envelope[AnnotationsChanged]) -> None:
    event = envelope.data
    if not await _dataset_exists(session, envelope.tenantid, event.dataset_id):
        return
    repo = SampleRepository(session, envelope.tenantid)
    present = {s.id for s in await repo.in_dataset(event.dataset_id, [c.sample_id for c in event.changes])}
    for change in sorted(event.changes, key=lambda c: c.sample_id):  # one lock order for concurrent handlers
        if change.sample_id in present:  # a sample deleted meanwhile stays deleted
            await repo.set_labels(event.dataset_id, change.sample_id, change.labels, envelope.time)


async def on_label_renamed(session: AsyncSession, envelope: Envelope[LabelRenamed]) -> None:
    event = envelope.data
    if await _dataset_exists(session, envelope.tenantid, event.dataset_id):
        await SampleRepository(session, envelope.tenantid).rename_label(
            event.dataset_id, event.old_name, event.new_name
        )


async def on_label_deleted(session: AsyncSession, envelope: Envelope[LabelDeleted], outbox: Outbox) -> None:
    """The label leaves every sample; with policy 2/3 the samples that only had it are deleted too."""
    event = envelope.data
    if not await _dataset_exists(session, envelope.tenantid, event.dataset_id):
        return
    repo = SampleRepository(session, envelope.tenantid)
    await repo.remove_label(event.dataset_id, event.name)
    if event.policy == "label_only" or not event.deleted_sample_ids:
        return
    gone: list[Sample] = await repo.in_dataset(event.dataset_id, event.deleted_sample_ids)
    await repo.delete_for_good(event.dataset_id, gone)
    if gone:
        await outbox.add(
            session,
            SamplesDeleted(dataset_id=event.dataset_id, sample_ids=sorted(s.id for s in gone)),
            subject=event.dataset_id,
            tenant_id=envelope.tenantid,
        )


def register_consumers(consumer: HandlerRegistry) -> None:
    """Attach this service's event handlers to ``consumer``."""
    consumer.handler(AnnotationsChanged, "dataset.annotations_changed")(on_annotations_changed)
    consumer.handler(LabelRenamed, "dataset.label_renamed")(on_label_renamed)

    @consumer.handler(LabelDeleted, "dataset.label_deleted")
    async def label_deleted(session: AsyncSession, envelope: Envelope[LabelDeleted]) -> None:
        await on_label_deleted(session, envelope, consumer.runtime.outbox)
