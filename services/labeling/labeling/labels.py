"""Label sets: create, list, rename/recolour, delete with the three policies of the seed."""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from labeling.errors import LabelExists, LabelNotFound, ShortcutTaken
from labeling.events import announce_changes
from labeling.models import Dataset, Label
from labeling.repository import AnnotationRepository, DatasetRepository, LabelRepository, SampleRepository
from labeling.rules import (
    COLOR_REQUIRED_TYPES,
    SOUND_CLASSIFICATION,
    auto_color,
    label_name_errors,
    labeling_supported,
    type_name,
)
from labeling.schemas import (
    COLOR_KEY,
    RENAME_KEY,
    SHORTCUT_KEY,
    LabelCreate,
    LabelDeleteResult,
    LabelRead,
    LabelUpdate,
)
from shared.db import Page
from shared.errors import ErrorDetail, InvalidInput
from shared.events.labeling import LabelDeleted, LabelRenamed
from shared.messaging import Outbox
from shared.service import Peers

POLICIES: dict[int, Literal["label_only", "label_and_samples", "label_samples_and_files"]] = {
    0: "label_only",
    1: "label_and_samples",
    2: "label_samples_and_files",
}
# Samples per delete request to the dataset service.
DELETE_CHUNK = 500


def label_read(label: Label, dataset_type: int) -> LabelRead:
    prop = {k: v for k, v in ((COLOR_KEY, label.color), (SHORTCUT_KEY, label.shortcut)) if v}
    return LabelRead(
        name=label.name,
        type=dataset_type,
        color=label.color,
        shortcut=label.shortcut,
        attributes=list(label.attributes or []),
        property=prop,
        created_at=label.created_at,
        updated_at=label.updated_at,
    )


async def ensure_labels(
    session: AsyncSession, tenant_id: str, dataset: Dataset, names: Iterable[str]
) -> dict[str, Label]:
    """The labels of these names, creating the missing ones with an automatic colour.

    Callers have checked the names against the naming rules.
    """
    repo = LabelRepository(session, tenant_id)
    wanted = sorted(set(names))
    found = await repo.by_names(dataset.id, wanted)
    missing = [n for n in wanted if n not in found]
    count = await repo.count(dataset.id) if missing else 0
    for i, name in enumerate(missing):
        label = Label(dataset_id=dataset.id, name=name, color=auto_color(count + i), attributes=[])
        try:
            async with session.begin_nested():  # a concurrent request may create the same label first
                await repo.add(label)
        except IntegrityError:
            existing = await repo.by_name(dataset.id, name)
            if existing is None:
                raise
            label = existing
        found[name] = label
    return found


def _invalid(details: list[ErrorDetail]) -> None:
    if details:
        raise InvalidInput("; ".join(d.msg for d in details), details=details)


class LabelService:
    """One tenant's label sets."""

    def __init__(self, session: AsyncSession, outbox: Outbox, tenant_id: str) -> None:
        self.session, self.outbox, self.tenant_id = session, outbox, tenant_id
        self.datasets = DatasetRepository(session, tenant_id)
        self.labels = LabelRepository(session, tenant_id)
        self.annotations = AnnotationRepository(session, tenant_id)

    async def dataset(self, dataset_id: str) -> Dataset:
        return await self.datasets.get_live(dataset_id)

    async def get(self, dataset: Dataset, name: str) -> Label:
        label = await self.labels.by_name(dataset.id, name)
        if label is None:
            raise LabelNotFound(f"label {name!r} does not exist in dataset {dataset.id}")
        return label

    async def list(self, dataset_id: str, offset: int, limit: int) -> tuple[Dataset, Page[Label]]:
        dataset = await self.dataset(dataset_id)
        page = await self.labels.list(
            Label.dataset_id == dataset.id,
            offset=offset,
            limit=limit,
            order_by=(Label.created_at, Label.name),
        )
        return dataset, page

    async def create(self, dataset_id: str, body: LabelCreate) -> tuple[Dataset, Label]:
        dataset = await self.dataset(dataset_id)
        color = body.color or body.property.get(COLOR_KEY)
        shortcut = body.shortcut or body.property.get(SHORTCUT_KEY)
        _invalid(
            labeling_supported(dataset.dataset_type)
            + label_name_errors(body.name, dataset.dataset_type, "name")
        )
        _invalid(_property_errors(color, shortcut, dataset.dataset_type))
        if await self.labels.by_name(dataset.id, body.name) is not None:
            raise LabelExists(f"label {body.name!r} already exists")
        await self._check_shortcut_free(dataset, shortcut, None)
        label = Label(
            dataset_id=dataset.id,
            name=body.name,
            color=color.lower() if color else None,
            shortcut=shortcut.upper() if shortcut else None,
            attributes=[a.model_dump() for a in body.attributes],
        )
        if label.color is None:
            label.color = auto_color(await self.labels.count(dataset.id))
        try:
            async with self.session.begin_nested():  # a concurrent request may have taken the name
                await self.labels.add(label)
        except IntegrityError as exc:
            raise LabelExists(f"label {body.name!r} already exists") from exc
        return dataset, label

    async def update(self, dataset_id: str, name: str, body: LabelUpdate) -> tuple[Dataset, Label]:
        dataset = await self.dataset(dataset_id)
        label = await self.get(dataset, name)
        fields = body.model_fields_set
        new_name = body.name if body.name is not None else body.property.get(RENAME_KEY)
        color = body.color if "color" in fields else body.property.get(COLOR_KEY, label.color)
        shortcut = body.shortcut if "shortcut" in fields else body.property.get(SHORTCUT_KEY, label.shortcut)
        _invalid(_property_errors(color, shortcut, dataset.dataset_type))
        await self._check_shortcut_free(dataset, shortcut, label)
        label.color = color.lower() if color else None
        label.shortcut = shortcut.upper() if shortcut else None
        if body.attributes is not None:
            label.attributes = [a.model_dump() for a in body.attributes]
        if new_name is not None and new_name != label.name:
            await self._rename(dataset, label, new_name)
        await self.session.flush()
        return dataset, label

    async def _rename(self, dataset: Dataset, label: Label, new_name: object) -> None:
        if not isinstance(new_name, str):
            raise InvalidInput(
                "a label name is a string",
                details=[ErrorDetail(rule="label_name_type", field="name", msg="a label name is a string")],
            )
        _invalid(label_name_errors(new_name, dataset.dataset_type, "name"))
        if await self.labels.by_name(dataset.id, new_name) is not None:
            raise LabelExists(f"label {new_name!r} already exists")
        old_name, label.name = label.name, new_name
        await self.session.flush()
        # Annotations point at the label by id: they follow without being touched.
        await self.outbox.add(
            self.session,
            LabelRenamed(dataset_id=dataset.id, old_name=old_name, new_name=new_name),
            subject=dataset.id,
            tenant_id=self.tenant_id,
        )
        affected = await self.annotations.samples_with_label(dataset.id, label.id)
        await announce_changes(self.session, self.outbox, self.tenant_id, dataset.id, affected)

    async def _check_shortcut_free(self, dataset: Dataset, shortcut: str | None, label: Label | None) -> None:
        if not shortcut:
            return
        holder = await self.labels.by_shortcut(dataset.id, shortcut.upper())
        if holder is not None and holder is not label:
            raise ShortcutTaken(f"shortcut {shortcut.upper()!r} is already used by label {holder.name!r}")

    async def delete(self, dataset_id: str, name: str, policy: int, peers: Peers) -> LabelDeleteResult:
        """Delete a label; policy 1/2 also deletes the samples that only have it (2: and their files)."""
        dataset = await self.dataset(dataset_id)
        label = await self.get(dataset, name)
        affected = await self.annotations.samples_with_label(dataset.id, label.id)
        doomed = await self.annotations.samples_only_with_label(dataset.id, label.id) if policy else []
        if doomed:
            await self._delete_samples_at_dataset(dataset.id, doomed, delete_source=policy == 2, peers=peers)
            await self.annotations.delete_for_samples(dataset.id, doomed)
            await SampleRepository(self.session, self.tenant_id).delete_ids(dataset.id, doomed)
        await self.annotations.delete_for_label(dataset.id, label.id)
        await self.labels.delete(label)
        remaining = sorted(set(affected) - set(doomed))
        await self.outbox.add(
            self.session,
            LabelDeleted(
                dataset_id=dataset.id, name=name, policy=POLICIES[policy], deleted_sample_ids=doomed
            ),
            subject=dataset.id,
            tenant_id=self.tenant_id,
        )
        changed = await announce_changes(self.session, self.outbox, self.tenant_id, dataset.id, remaining)
        return LabelDeleteResult(
            name=name, delete_policy=policy, deleted_sample_ids=doomed, changed_sample_count=changed
        )

    async def _delete_samples_at_dataset(
        self, dataset_id: str, sample_ids: builtins.list[str], *, delete_source: bool, peers: Peers
    ) -> None:
        # Before our own commit: if the dataset service refuses, nothing changes here either. If our commit
        # failed afterwards, its samples.deleted events would still remove these annotations.
        for start in range(0, len(sample_ids), DELETE_CHUNK):
            await peers.request(
                "dataset",
                "POST",
                f"/v1/datasets/{dataset_id}/samples/delete",
                json={"samples": sample_ids[start : start + DELETE_CHUNK], "delete_source": delete_source},
                tenant_id=self.tenant_id,
            )


def _property_errors(color: object, shortcut: object, dataset_type: int) -> list[ErrorDetail]:
    if color is None and dataset_type in COLOR_REQUIRED_TYPES:  # nothing else to check without a colour
        msg = f"{type_name(dataset_type)} labels need a colour ('#rrggbb')"
        return [ErrorDetail(rule="label_color_required", field="color", msg=msg)]
    errors = []
    if color is not None and not (isinstance(color, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", color)):
        errors.append(
            ErrorDetail(
                rule="label_color_format",
                field="color",
                value=str(color)[:20],
                msg="a label colour is a hex code '#rrggbb'",
            )
        )
    if shortcut is not None:
        if not (isinstance(shortcut, str) and re.fullmatch(r"[A-Za-z0-9]", shortcut)):
            errors.append(
                ErrorDetail(
                    rule="label_shortcut_format",
                    field="shortcut",
                    value=str(shortcut)[:20],
                    msg="a shortcut is one letter or digit",
                )
            )
        elif dataset_type != SOUND_CLASSIFICATION:
            errors.append(
                ErrorDetail(
                    rule="label_shortcut_sound_only",
                    field="shortcut",
                    msg="shortcuts exist for sound classification labels only",
                )
            )
    return errors
