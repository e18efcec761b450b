"""Handlers of the dataset service's events: the read model of datasets and samples, import-time labels.

Each handler runs in one transaction with its inbox claim, so a redelivered event has no second effect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from labeling.annotations import write_annotations
from labeling.events import announce_changes
from labeling.models import Dataset, Sample
from labeling.prelabel.repository import SuggestionRepository
from labeling.repository import AnnotationRepository, DatasetRepository, LabelRepository, SampleRepository
from labeling.rules import annotation_errors
from shared.events.dataset import AddedSample, DatasetCreated, DatasetDeleted, SamplesAdded, SamplesDeleted
from shared.logging import get_logger
from shared.messaging import Envelope, HandlerRegistry, Outbox

log = get_logger(__name__)


class _Box:
    """Attribute access to an imported ``bndbox`` dict (missing keys make it invalid)."""

    def __init__(self, raw: dict[str, float]) -> None:
        self.xmin, self.ymin = raw.get("xmin", -1.0), raw.get("ymin", -1.0)
        self.xmax, self.ymax = raw.get("xmax", -1.0), raw.get("ymax", -1.0)


class _Imported:
    def __init__(self, raw: Any) -> None:
        self.name = raw.name
        self.bndbox = _Box(raw.bndbox) if raw.bndbox is not None else None
        self.pose, self.truncated = raw.pose, raw.truncated
        self.occluded, self.difficult = raw.occluded, raw.difficult
        self.annotated_by = raw.annotated_by


async def ensure_dataset(
    session: AsyncSession, tenant_id: str, dataset_id: str, dataset_type: int, name: str | None = None
) -> Dataset:
    repo = DatasetRepository(session, tenant_id)
    dataset = await repo.find(dataset_id)
    if dataset is None:
        dataset = await repo.add(Dataset(id=dataset_id, dataset_type=dataset_type, name=name, deleted=False))
    elif name is not None and not dataset.deleted:
        dataset.name, dataset.dataset_type = name, dataset_type
    return dataset


async def on_dataset_created(session: AsyncSession, envelope: Envelope[DatasetCreated]) -> None:
    event = envelope.data
    await ensure_dataset(session, envelope.tenantid, event.dataset_id, event.dataset_type, event.name)


def _valid_import(dataset: Dataset, sample: AddedSample) -> list[_Imported]:
    """The sample's imported annotations if they keep every rule; otherwise none (imported unlabeled)."""
    anns = [_Imported(a) for a in sample.annotations]
    errors = annotation_errors(anns, dataset.dataset_type, width=sample.width, height=sample.height)
    if errors:
        log.warning(
            "imported annotations rejected, sample kept unlabeled",
            dataset_id=dataset.id,
            sample=sample.name,
            rules=[e.rule for e in errors],
        )
        return []
    return anns


async def on_samples_added(session: AsyncSession, envelope: Envelope[SamplesAdded], outbox: Outbox) -> None:
    event = envelope.data
    tenant = envelope.tenantid
    dataset = await ensure_dataset(session, tenant, event.dataset_id, event.dataset_type)
    if dataset.deleted:
        return
    samples = SampleRepository(session, tenant)
    known = await samples.existing_ids([s.sample_id for s in event.samples])
    fresh = [s for s in event.samples if s.sample_id not in known]
    for s in fresh:
        session.add(
            Sample(
                id=s.sample_id,
                tenant_id=tenant,
                dataset_id=dataset.id,
                name=s.name,
                sample_type=s.sample_type,
                width=s.width,
                height=s.height,
            )
        )
    await session.flush()
    imported = {s.sample_id: _valid_import(dataset, s) for s in fresh if s.annotations}
    await write_annotations(session, tenant, dataset, imported)
    # Tell the dataset service what was kept, also where rejected annotations left a sample unlabeled.
    await announce_changes(session, outbox, tenant, dataset.id, list(imported))


async def on_samples_deleted(session: AsyncSession, envelope: Envelope[SamplesDeleted]) -> None:
    event = envelope.data
    tenant = envelope.tenantid
    await SuggestionRepository(session, tenant).delete_for_samples(event.dataset_id, event.sample_ids)
    await AnnotationRepository(session, tenant).delete_for_samples(event.dataset_id, event.sample_ids)
    await SampleRepository(session, tenant).delete_ids(event.dataset_id, event.sample_ids)


async def on_dataset_deleted(session: AsyncSession, envelope: Envelope[DatasetDeleted]) -> None:
    event = envelope.data
    tenant = envelope.tenantid
    await SuggestionRepository(session, tenant).delete_dataset(event.dataset_id)
    await AnnotationRepository(session, tenant).delete_dataset(event.dataset_id)
    await LabelRepository(session, tenant).delete_dataset(event.dataset_id)
    await SampleRepository(session, tenant).delete_dataset(event.dataset_id)
    dataset = await DatasetRepository(session, tenant).find(event.dataset_id)
    if dataset is None:
        # A tombstone keeps a late samples.added from reviving it; the type no longer matters.
        await DatasetRepository(session, tenant).add(
            Dataset(id=event.dataset_id, dataset_type=-1, deleted=True)
        )
    else:
        dataset.deleted = True


def register_consumers(consumer: HandlerRegistry) -> None:
    """Attach this service's event handlers to ``consumer``."""
    consumer.handler(DatasetCreated, name="labeling.dataset_created")(on_dataset_created)

    @consumer.handler(SamplesAdded, name="labeling.samples_added")
    async def samples_added(session: AsyncSession, envelope: Envelope[SamplesAdded]) -> None:
        await on_samples_added(session, envelope, consumer.runtime.outbox)

    consumer.handler(SamplesDeleted, name="labeling.samples_deleted")(on_samples_deleted)
    consumer.handler(DatasetDeleted, name="labeling.dataset_deleted")(on_dataset_deleted)
