"""Events the labeling service publishes, always through the outbox in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from labeling.repository import AnnotationRepository
from shared.events.labeling import AnnotationChange, AnnotationsChanged
from shared.messaging import Outbox

# One event carries at most this many samples, as the dataset service does for samples.added.
CHANGES_PER_EVENT = 500


async def announce_changes(
    session: AsyncSession, outbox: Outbox, tenant_id: str, dataset_id: str, sample_ids: Sequence[str]
) -> int:
    """Publish ``labeling.annotations.changed.v1`` with each sample's label names as they are now."""
    ids = sorted(set(sample_ids))
    if not ids:
        return 0
    names = await AnnotationRepository(session, tenant_id).label_names(dataset_id, ids)
    for start in range(0, len(ids), CHANGES_PER_EVENT):
        chunk = ids[start : start + CHANGES_PER_EVENT]
        changes = [AnnotationChange(sample_id=sid, labels=names[sid]) for sid in chunk]
        event = AnnotationsChanged(dataset_id=dataset_id, changes=changes)
        await outbox.add(session, event, subject=dataset_id, tenant_id=tenant_id)
    return len(ids)
