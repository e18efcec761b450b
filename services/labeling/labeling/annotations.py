"""Annotations of samples: read, replace one or many, add/remove a label on many, statistics, snapshots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from labeling.errors import LabelNotFound, SampleNotFound
from labeling.events import announce_changes
from labeling.labels import ensure_labels, label_read
from labeling.models import Annotation, Dataset, Label, Sample
from labeling.prelabel.repository import SuggestionRepository
from labeling.repository import AnnotationRepository, DatasetRepository, LabelRepository, SampleRepository
from labeling.rules import (
    OBJECT_DETECTION,
    SINGLE_LABEL_TYPES,
    AnnotationLike,
    annotation_errors,
    dedupe_classification,
    label_name_errors,
    labeling_supported,
)
from labeling.schemas import (
    AnnotationIn,
    AnnotationRead,
    AnnotationSnapshot,
    AnnotationStats,
    BatchLabel,
    BatchResult,
    BatchUpdate,
    LabelStat,
    SampleAnnotations,
    SampleStats,
    SnapshotAnnotation,
    SnapshotLabel,
)
from shared.context import new_id
from shared.db import utcnow
from shared.errors import ErrorDetail, InvalidInput
from shared.messaging import Outbox


def _raise_invalid(details: list[ErrorDetail]) -> None:
    if details:
        raise InvalidInput("; ".join(d.msg for d in details[:5]), details=details)


def annotation_row(
    ann: AnnotationLike | None, dataset: Dataset, sample_id: str, label: Label
) -> dict[str, Any]:
    """The values of one annotation row (``ann`` None: a plain label put on a sample by a batch)."""
    box = ann.bndbox if ann is not None else None
    return {
        "id": new_id(),
        "tenant_id": dataset.tenant_id,
        "dataset_id": dataset.id,
        "sample_id": sample_id,
        "label_id": label.id,
        "xmin": box.xmin if box else None,
        "ymin": box.ymin if box else None,
        "xmax": box.xmax if box else None,
        "ymax": box.ymax if box else None,
        "pose": getattr(ann, "pose", None) or "Unspecified",
        "truncated": getattr(ann, "truncated", 0),
        "occluded": getattr(ann, "occluded", 0),
        "difficult": getattr(ann, "difficult", 0),
        "annotated_by": getattr(ann, "annotated_by", "human"),
        "created_at": utcnow(),
    }


async def insert_annotations(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:  # one multi-row INSERT instead of an ORM object per annotation
        await session.execute(sa.insert(Annotation), rows)


async def write_annotations(
    session: AsyncSession,
    tenant_id: str,
    dataset: Dataset,
    updates: Mapping[str, Sequence[AnnotationLike]],
) -> None:
    """Replace the annotations of each sample in ``updates`` (already validated), creating missing labels."""
    if not updates:
        return
    repo = AnnotationRepository(session, tenant_id)
    await repo.delete_for_samples(dataset.id, list(updates))
    # A labeled sample needs no suggestion any more (model-assisted labeling).
    await SuggestionRepository(session, tenant_id).delete_for_samples(dataset.id, list(updates))
    names = {a.name for anns in updates.values() for a in anns}
    labels = await ensure_labels(session, tenant_id, dataset, names)
    await insert_annotations(
        session,
        [
            annotation_row(ann, dataset, sample_id, labels[ann.name])
            for sample_id, anns in updates.items()
            for ann in dedupe_classification(anns, dataset.dataset_type)
        ],
    )


class AnnotationService:
    """One tenant's annotations. Labels unknown to the dataset are created implicitly (automatic colour)."""

    def __init__(self, session: AsyncSession, outbox: Outbox, tenant_id: str) -> None:
        self.session, self.outbox, self.tenant_id = session, outbox, tenant_id
        self.datasets = DatasetRepository(session, tenant_id)
        self.samples = SampleRepository(session, tenant_id)
        self.labels = LabelRepository(session, tenant_id)
        self.annotations = AnnotationRepository(session, tenant_id)

    async def existing_samples(
        self, dataset: Dataset, sample_ids: Sequence[str], *, lock: bool = True
    ) -> dict[str, Sample]:
        found = await self.samples.find_in(dataset.id, sample_ids, lock=lock)
        missing = [sid for sid in dict.fromkeys(sample_ids) if sid not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise SampleNotFound(f"{len(missing)} sample(s) do not exist in dataset {dataset.id}: {shown}")
        return found

    async def views(self, dataset: Dataset, samples: dict[str, Sample]) -> list[SampleAnnotations]:
        rows = await self.annotations.with_labels(dataset.id, list(samples))
        by_sample: dict[str, list[tuple[Annotation, Label]]] = defaultdict(list)
        for ann, label in rows:
            by_sample[ann.sample_id].append((ann, label))
        return [
            SampleAnnotations(
                sample_id=sid,
                sample_name=sample.name,
                labels=sorted({lbl.name for _, lbl in by_sample[sid]}),
                annotations=[
                    AnnotationRead(
                        name=lbl.name,
                        color=lbl.color,
                        bndbox=a.bndbox,
                        pose=a.pose,
                        truncated=a.truncated,
                        occluded=a.occluded,
                        difficult=a.difficult,
                        annotated_by=a.annotated_by,
                        created_at=a.created_at,
                    )
                    for a, lbl in by_sample[sid]
                ],
            )
            for sid, sample in samples.items()
        ]

    async def read(self, dataset_id: str, sample_id: str) -> SampleAnnotations:
        dataset = await self.datasets.get_live(dataset_id)
        return (await self.views(dataset, await self.existing_samples(dataset, [sample_id], lock=False)))[0]

    async def replace(
        self, dataset_id: str, sample_id: str, annotations: list[AnnotationIn]
    ) -> SampleAnnotations:
        dataset = await self.datasets.get_live(dataset_id)
        samples = await self.existing_samples(dataset, [sample_id])
        await self._replace_many(dataset, samples, {sample_id: annotations}, {sample_id: "annotations"})
        return (await self.views(dataset, samples))[0]

    async def replace_batch(self, dataset_id: str, body: BatchUpdate) -> BatchResult:
        dataset = await self.datasets.get_live(dataset_id)
        samples = await self.existing_samples(dataset, [s.sample_id for s in body.samples])
        updates = {s.sample_id: s.annotations for s in body.samples}
        fields = {s.sample_id: f"samples[{i}].annotations" for i, s in enumerate(body.samples)}
        await self._replace_many(dataset, samples, updates, fields)
        return BatchResult(changed_sample_count=len(samples), samples=await self.views(dataset, samples))

    async def _replace_many(
        self,
        dataset: Dataset,
        samples: dict[str, Sample],
        updates: dict[str, list[AnnotationIn]],
        fields: dict[str, str],
    ) -> None:
        errors: list[ErrorDetail] = []
        for sid, anns in updates.items():
            sample = samples[sid]
            errors += annotation_errors(
                anns, dataset.dataset_type, width=sample.width, height=sample.height, field=fields[sid]
            )
        _raise_invalid(errors)
        await write_annotations(self.session, self.tenant_id, dataset, updates)
        await announce_changes(self.session, self.outbox, self.tenant_id, dataset.id, list(updates))

    async def add_label(self, dataset_id: str, body: BatchLabel) -> BatchResult:
        """Put one label on many samples: added next to others (image classification) or replacing the
        sample's label (sound, text). Object detection needs rectangles, so it is labeled per sample."""
        dataset = await self.datasets.get_live(dataset_id)
        errors = labeling_supported(dataset.dataset_type) + label_name_errors(
            body.name, dataset.dataset_type, "name"
        )
        if not errors and dataset.dataset_type == OBJECT_DETECTION:
            errors = [
                ErrorDetail(
                    rule="bndbox_required",
                    field="name",
                    msg="object detection labels need "
                    "rectangles: label each image with PUT .../annotations/{sample_id}",
                )
            ]
        _raise_invalid(errors)
        samples = await self.existing_samples(dataset, body.sample_ids)
        label = (await ensure_labels(self.session, self.tenant_id, dataset, [body.name]))[body.name]
        current = await self.annotations.label_names(dataset.id, list(samples))
        if dataset.dataset_type in SINGLE_LABEL_TYPES:
            await self.annotations.delete_for_samples(dataset.id, list(samples))
            targets = list(samples)
        else:
            targets = [sid for sid in samples if body.name not in current[sid]]
        await insert_annotations(self.session, [annotation_row(None, dataset, sid, label) for sid in targets])
        single = dataset.dataset_type in SINGLE_LABEL_TYPES
        changed = [sid for sid in samples if current[sid] != [body.name]] if single else targets
        await announce_changes(self.session, self.outbox, self.tenant_id, dataset.id, changed)
        return BatchResult(changed_sample_count=len(changed), samples=await self.views(dataset, samples))

    async def remove_label(self, dataset_id: str, body: BatchLabel) -> BatchResult:
        """Take one label (all its objects) off many samples."""
        dataset = await self.datasets.get_live(dataset_id)
        samples = await self.existing_samples(dataset, body.sample_ids)
        label = await self.labels.by_name(dataset.id, body.name)
        if label is None:
            raise LabelNotFound(f"label {body.name!r} does not exist in dataset {dataset.id}")
        current = await self.annotations.label_names(dataset.id, list(samples))
        changed = [sid for sid in samples if body.name in current[sid]]
        await self.annotations.delete_for_samples(dataset.id, changed, label_id=label.id)
        await announce_changes(self.session, self.outbox, self.tenant_id, dataset.id, changed)
        return BatchResult(changed_sample_count=len(changed), samples=await self.views(dataset, samples))

    async def stats(self, dataset_id: str) -> AnnotationStats:
        """The "All Labels" panel: per label objects and samples; labeled/unlabeled sample counts."""
        dataset = await self.datasets.get_live(dataset_id)
        # Labels before their counts: a label and its first annotations commit together, so every label
        # read here has its annotations counted below (the other order showed a label of 0 samples when
        # an import committed between the two reads).
        labels = await self.labels.all(dataset.id)
        counts = await self.annotations.label_counts(dataset.id)
        label_stats = []
        for label in labels:
            read = label_read(label, dataset.dataset_type)
            count, sample_count = counts.get(label.id, (0, 0))
            label_stats.append(
                LabelStat(
                    name=label.name,
                    type=dataset.dataset_type,
                    color=label.color,
                    shortcut=label.shortcut,
                    property=read.property,
                    count=count,
                    sample_count=sample_count,
                )
            )
        total, labeled = await self.samples.labeled_counts(dataset.id)
        return AnnotationStats(
            dataset_id=dataset.id,
            label_stats=label_stats,
            sample_stats=SampleStats(
                total=total,
                labeled=labeled,
                unlabeled=total - labeled,
                all=total,
                manual_annotation=labeled,
                un_annotation=total - labeled,
            ),
        )

    async def snapshot(self, dataset_id: str, sample_ids: Sequence[str] | None) -> AnnotationSnapshot:
        """Labels and the annotations of labeled samples, for the dataset service's publish."""
        dataset = await self.datasets.get_live(dataset_id)
        labels = await self.labels.all(dataset.id)
        out: dict[str, list[SnapshotAnnotation]] = defaultdict(list)
        for ann, label in await self.annotations.with_labels(dataset.id, sample_ids):
            out[ann.sample_id].append(
                SnapshotAnnotation(
                    name=label.name,
                    bndbox=ann.bndbox,
                    pose=ann.pose,
                    truncated=ann.truncated,
                    occluded=ann.occluded,
                    difficult=ann.difficult,
                    annotated_by=ann.annotated_by,
                    created_at=ann.created_at,
                )
            )
        return AnnotationSnapshot(
            dataset_id=dataset.id,
            labels=[SnapshotLabel(name=lbl.name, color=lbl.color, shortcut=lbl.shortcut) for lbl in labels],
            annotations=dict(out),
        )
