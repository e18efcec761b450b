"""Samples: upload, list, detail and content, batch delete."""

from __future__ import annotations

import builtins
import io
import posixpath
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import UploadFile
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from dataset.config import Settings
from dataset.errors import SampleNotFound
from dataset.layouts import (
    Candidate,
    FileError,
    TableContext,
    Unit,
    UnitRejected,
    build_unit,
    group_units,
    input_folder,
)
from dataset.models import Dataset, Sample
from dataset.repository import DatasetRepository, SampleFilter, SampleRepository
from dataset.schemas import SampleRead
from dataset.types import KINDS, DatasetKind
from dataset.uploads import SAMPLE_EXISTS, leftovers, nothing_stored, read_uploads
from dataset.writer import add_samples
from shared.db import Page
from shared.events.dataset import SamplesDeleted
from shared.service import ServiceRuntime

__all__ = ["SampleService", "Uploaded", "sample_read"]


@dataclass
class Uploaded:
    samples: list[SampleRead]
    warnings: list[FileError]  # per file: rules broken by a stored file
    rejected: list[FileError]  # per file: why it was not stored


def sample_read(sample: Sample, dataset_id: str, url: str | None = None) -> SampleRead:
    return SampleRead(
        sample_id=sample.id,
        sample_name=sample.name,
        sample_type=sample.sample_type,
        source=sample.source,
        text=sample.text,
        sample_size=sample.size,
        width=sample.width,
        height=sample.height,
        row_count=sample.row_count,
        labels=list(sample.labels or []),
        labeled=sample.labeled,
        sample_status="MANUAL_ANNOTATION" if sample.labeled else "UN_ANNOTATION",
        usage=sample.usage,
        create_time=sample.created_at,
        url=url,
        content_url=f"/v1/datasets/{dataset_id}/samples/{sample.id}/content",
    )


class SampleService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.settings = runtime.settings
        self.datasets = DatasetRepository(session, tenant_id)
        self.samples = SampleRepository(session, tenant_id)
        self.storage = runtime.tenant_storage(tenant_id)

    async def upload(self, dataset_id: str, files: list[UploadFile]) -> Uploaded:
        """Store every valid file (with its companion) and name each rejected one with its rule.

        None kept: the error names every file. A table part that breaks a rule of the version check (too few
        rows so far, a timestamp column, one label value) and an image whose VOC boxes are inverted or leave it
        (stored unlabeled) are kept, the rule reported as a warning.
        """
        ds = await self.datasets.get(dataset_id)
        kind = KINDS[ds.dataset_type]
        root = self.storage.folder(input_folder(ds.input_path), field="input_path")
        contents, rejected = await read_uploads(
            files, self.settings, lambda name: self.storage.child(root, name, field="files")
        )
        units, errors = group_units(sorted(contents), kind, lambda rel: str(self.storage.child(root, rel)))
        rejected += errors
        table = await self._table_context(ds) if kind.is_table else None
        accepted, warnings = await self._build(ds, kind, units, contents, table, rejected)
        stored = {u.path for u, _ in accepted} | {u.companion for u, _ in accepted if u.companion}
        causes = sorted(rejected, key=lambda e: e.file)
        rejected = causes + leftovers(contents, stored, causes, kind.extensions)
        if not accepted:
            raise nothing_stored(rejected)
        candidates = [c for _, built in accepted for c in built]
        # An upload is the user's own act: a file of a deleted sample's name is a new sample (ADR 0016).
        await self.samples.forget_deleted(ds.id, {u.uri for u, _ in accepted})
        for rel in sorted(stored):
            await self.storage.put(
                self.storage.child(root, rel), contents[rel], content_type=_content_type(rel)
            )
        if table is not None and ds.table_schema is None:
            ds.table_schema = table.schema
            ds.label_column = ds.label_column or (table.schema[-1]["name"] if table.schema else None)
        rows = await add_samples(self.session, self.runtime, ds, candidates, None)
        warnings += [w for c in candidates for w in c.warnings] + (table.row_warnings() if table else [])
        return Uploaded([sample_read(r, ds.id) for r in rows], warnings, rejected)

    async def _build(
        self,
        ds: Dataset,
        kind: DatasetKind,
        units: builtins.list[Unit],
        contents: dict[str, bytes],
        table: TableContext | None,
        rejected: builtins.list[FileError],
    ) -> tuple[builtins.list[tuple[Unit, builtins.list[Candidate]]], builtins.list[FileError]]:
        """The units that become samples; the others are added to ``rejected`` (existing ones unread)."""

        async def load(rel: str) -> bytes:
            return contents[rel]

        existing = {key.split("#", 1)[0] for key in await self.samples.source_keys(ds.id)}
        accepted: builtins.list[tuple[Unit, builtins.list[Candidate]]] = []
        warnings: builtins.list[FileError] = []
        for unit in units:
            if unit.uri in existing:
                rejected.append(FileError(unit.path, SAMPLE_EXISTS, "a sample with this file name exists"))
                continue
            found: builtins.list[FileError] = []  # reported only if the unit is stored
            try:
                built = await build_unit(unit, kind, load, self.settings, table, warnings=found)
            except UnitRejected as exc:
                rejected.append(exc.error)
                continue
            warnings += found
            if table is not None and built:
                table.add(built[0])
            accepted.append((unit, built))
        return accepted, warnings

    async def _table_context(self, ds: Dataset) -> TableContext:
        rows = await self.datasets.table_rows(ds.id)
        return TableContext(
            ds.with_column_header,
            ds.label_column,
            ds.table_schema,
            rows=rows,
            min_rows=self.settings.check_min_table_records,
        )

    async def list(
        self, dataset_id: str, flt: SampleFilter, *, offset: int, limit: int, sort_by: str, order: str
    ) -> Page[SampleRead]:
        await self.datasets.get(dataset_id)
        page = await self.samples.page(
            dataset_id, flt, offset=offset, limit=limit, sort_by=sort_by, order=order
        )
        return Page([sample_read(s, dataset_id) for s in page.items], page.total)

    async def get(self, dataset_id: str, sample_id: str) -> Sample:
        await self.datasets.get(dataset_id)
        sample = await self.samples.get(sample_id)
        if sample.dataset_id != dataset_id:
            await self.samples.get("")
        return sample

    async def detail(self, dataset_id: str, sample_id: str) -> SampleRead:
        sample = await self.get(dataset_id, sample_id)
        url = None
        if sample.source.startswith("s3://"):
            url = await self.storage.presigned_get_url(sample.source, expires=timedelta(hours=1))
        return sample_read(sample, dataset_id, url)

    async def content(self, dataset_id: str, sample_id: str, thumbnail: bool) -> tuple[Any, str]:
        """The object's bytes (a stream), or a JPEG thumbnail of an image, or a text sample's text."""
        sample = await self.get(dataset_id, sample_id)
        if sample.text is not None:
            return sample.text.encode(), "text/plain; charset=utf-8"
        if thumbnail and sample.sample_type == 0:
            return _thumbnail(await self.storage.get(sample.source)), "image/jpeg"
        stream: AsyncIterator[bytes] = await self.storage.open_stream(sample.source)
        return stream, _content_type(sample.name)

    async def delete(self, dataset_id: str, ids: builtins.list[str], delete_source: bool) -> dict[str, Any]:
        ds = await self.datasets.get(dataset_id)
        found = await self.samples.in_dataset(ds.id, ids)
        found_ids = {s.id for s in found}
        await self.samples.delete_for_good(ds.id, found)
        if found_ids:
            await self.runtime.outbox.add(
                self.session,
                SamplesDeleted(dataset_id=ds.id, sample_ids=sorted(found_ids)),
                subject=ds.id,
                tenant_id=self.tenant_id,
            )
        if delete_source:
            await self._delete_sources(ds, found)
        results = [
            {"sample_id": i, "success": True}
            if i in found_ids
            else {
                "sample_id": i,
                "success": False,
                "error_code": SampleNotFound.default_code,
                "error_msg": "sample does not exist",
            }
            for i in ids
        ]
        return {"success": all(r["success"] for r in results), "deleted": len(found_ids), "results": results}

    async def _delete_sources(self, ds: Dataset, samples: builtins.list[Sample]) -> None:
        await self.session.flush()
        for uri in sorted({s.source_key.split("#", 1)[0] for s in samples}):
            # A text object file holds many samples: remove it only when none of its lines is left.
            if await self.samples.count_referencing(ds.id, uri) == 0:
                await self.storage.delete(uri)


def _content_type(name: str) -> str:
    ext = posixpath.splitext(name.split("#", 1)[0].lower())[1]
    return {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".bmp": "image/bmp",
        ".wav": "audio/wav",
        ".txt": "text/plain; charset=utf-8",
        ".csv": "text/csv",
        ".xml": "application/xml",
    }.get(ext, "application/octet-stream")


def _thumbnail(data: bytes, size: int = 200) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=85)
        return out.getvalue()
