"""Storing validated samples: rows, their imported labels, and ``dataset.samples.added`` events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dataset.config import Settings
from dataset.layouts import Candidate
from dataset.models import Dataset, Sample
from dataset.repository import SampleRepository
from shared.db.base import utcnow
from shared.events.dataset import AddedSample, SamplesAdded
from shared.service import ServiceRuntime

__all__ = ["EVENT_CHUNK", "add_samples"]

EVENT_CHUNK = 500  # the contract's largest SamplesAdded event


async def add_samples(
    session: AsyncSession,
    runtime: ServiceRuntime[Settings],
    dataset: Dataset,
    candidates: Sequence[Candidate],
    import_id: str | None,
) -> list[Sample]:
    """Insert ``candidates`` as samples of ``dataset`` and announce them (with the labels found in the data)."""
    if not candidates:
        return []
    now = utcnow()
    rows = [
        Sample(
            tenant_id=dataset.tenant_id,
            dataset_id=dataset.id,
            name=c.name[:1024],
            source_key=c.source_key,
            source=c.source[:1100],
            text=c.text,
            sample_type=c.sample_type,
            size=c.size,
            width=c.width,
            height=c.height,
            row_count=c.row_count,
            duration=c.duration,
            labeled=bool(c.annotations),
            import_id=import_id,
            created_at=now,
            labels=sorted({a.name for a in c.annotations}),
        )
        for c in candidates
    ]
    session.add_all(rows)
    await session.flush()
    await SampleRepository(session, dataset.tenant_id).index_labels(rows)
    for start in range(0, len(rows), EVENT_CHUNK):
        chunk = list(zip(rows, candidates, strict=True))[start : start + EVENT_CHUNK]
        event = SamplesAdded(
            dataset_id=dataset.id,
            dataset_type=dataset.dataset_type,
            import_id=import_id,
            samples=[
                AddedSample(
                    sample_id=r.id,
                    name=r.name,
                    source=c.source,
                    sample_type=r.sample_type,
                    width=r.width,
                    height=r.height,
                    annotations=c.annotations,
                )
                for r, c in chunk
            ],
        )
        await runtime.outbox.add(session, event, subject=dataset.id, tenant_id=dataset.tenant_id)
    return rows
