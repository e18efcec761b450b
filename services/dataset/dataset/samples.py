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
from dataset.errors import SampleNotFound, SamplesExist
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
from dataset.validation import Rejected, check_name
from dataset.writer import add_samples
from shared.db import Page
from shared.errors import ErrorDetail, InvalidInput, PayloadTooLarge
from shared.events.dataset import SamplesDeleted
from shared.service import ServiceRuntime
from shared.storage import S3Uri

__all__ = ["SampleService", "Uploaded", "sample_read"]


@dataclass
class Uploaded:
    samples: list[SampleRead]
    warnings: list[FileError]  # per file: rules broken that did not reject it


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


def _details(errors: list[FileError]) -> list[ErrorDetail]:
    return [ErrorDetail(rule=e.rule, msg=e.msg, field=e.field, file=e.file) for e in errors]


class SampleService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.settings = runtime.settings
        self.datasets = DatasetRepository(session, tenant_id)
        self.samples = SampleRepository(session, tenant_id)
        self.storage = runtime.tenant_storage(tenant_id)

    async def upload(self, dataset_id: str, files: list[UploadFile]) -> Uploaded:
        """Validate every file first; store them only if all pass (else 4xx naming each file and rule).

        A table part that breaks a rule of the version check (too few rows so far, a timestamp column, one
        label value) is stored, and the rule reported as a warning: the check stays the gate.
        """
        ds = await self.datasets.get(dataset_id)
        kind = KINDS[ds.dataset_type]
        root = self.storage.folder(input_folder(ds.input_path), field="input_path")
        contents = await self._read_uploads(files, root)
        units, errors = group_units(sorted(contents), kind, lambda rel: str(self.storage.child(root, rel)))
        errors += _orphans(contents, units, errors, kind)
        if errors:
            raise InvalidInput("some uploaded files are not accepted", details=_details(errors))

        async def load(rel: str) -> bytes:
            return contents[rel]

        table = await self._table_context(ds) if kind.is_table else None
        candidates: list[Candidate] = []
        warnings: list[FileError] = []
        for unit in units:
            try:
                built = await build_unit(unit, kind, load, self.settings, table, warnings=warnings)
            except UnitRejected as exc:
                errors.append(exc.error)
                continue
            if table is not None and built:
                table.add(built[0])
            candidates.extend(built)
        if errors or warnings:
            raise InvalidInput(
                "some uploaded files are not valid samples", details=_details(errors + warnings)
            )
        existing = await self.samples.source_keys(ds.id)
        duplicates = [c.name for c in candidates if c.source_key in existing]
        if duplicates:
            raise SamplesExist(
                "samples already exist",
                details=[
                    ErrorDetail("sample_exists", "a sample with this file name exists", file=d)
                    for d in duplicates
                ],
            )
        # An upload is the user's own act: a file of a deleted sample's name is a new sample (ADR 0016).
        await self.samples.forget_deleted(ds.id, {c.source_key.split("#", 1)[0] for c in candidates})
        for rel, data in contents.items():  # every file is a validated sample or its companion
            await self.storage.put(self.storage.child(root, rel), data, content_type=_content_type(rel))
        if table is not None and ds.table_schema is None:
            ds.table_schema = table.schema
            ds.label_column = ds.label_column or (table.schema[-1]["name"] if table.schema else None)
        rows = await add_samples(self.session, self.runtime, ds, candidates, None)
        notes = [w for c in candidates for w in c.warnings] + (table.row_warnings() if table else [])
        return Uploaded([sample_read(r, ds.id) for r in rows], notes)

    async def _table_context(self, ds: Dataset) -> TableContext:
        rows = await self.datasets.table_rows(ds.id)
        return TableContext(ds.with_column_header, ds.label_column, ds.table_schema, rows=rows)

    async def _read_uploads(self, files: list[UploadFile], root: S3Uri) -> dict[str, bytes]:
        if not files:
            raise InvalidInput(
                "no file uploaded",
                details=[ErrorDetail("files_required", "send one or more files", field="files")],
            )
        contents: dict[str, bytes] = {}
        total = 0
        for upload in files:
            name = (upload.filename or "").strip()
            self.storage.child(root, name, field="files")  # 403 for a name that leaves the input folder
            try:
                check_name(name)
            except Rejected as exc:
                raise InvalidInput(
                    f"file name {name!r} is not accepted", details=[ErrorDetail(exc.rule, exc.msg, file=name)]
                ) from exc
            data = await upload.read(self.settings.upload_max_bytes + 1 - total)
            total += len(data)
            if total > self.settings.upload_max_bytes:
                raise PayloadTooLarge(
                    f"the upload is larger than {self.settings.upload_max_bytes} bytes",
                    details=[
                        ErrorDetail(
                            "upload_too_large",
                            f"one upload may carry at most {self.settings.upload_max_bytes} bytes",
                            file=name,
                        )
                    ],
                )
            limit = self._file_limit(name)
            if len(data) > limit:
                raise PayloadTooLarge(
                    f"{name} is larger than {limit} bytes",
                    details=[
                        ErrorDetail(
                            "file_too_large", f"the file has {len(data)} bytes; at most {limit}", file=name
                        )
                    ],
                )
            contents[name] = data
        return contents

    def _file_limit(self, name: str) -> int:
        ext = posixpath.splitext(name.lower())[1]
        s = self.settings
        return {
            ".jpg": s.image_max_bytes,
            ".jpeg": s.image_max_bytes,
            ".png": s.image_max_bytes,
            ".bmp": s.image_max_bytes,
            ".wav": s.audio_max_bytes,
        }.get(ext, s.text_max_bytes)

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


def _orphans(
    contents: dict[str, bytes], units: list[Unit], errors: list[FileError], kind: DatasetKind
) -> list[FileError]:
    """Companion files (labels ``.txt``, boxes ``.xml``, ``_result.txt``) travel only with their sample."""
    used = {u.path for u in units} | {u.companion for u in units if u.companion} | {e.file for e in errors}
    return [
        FileError(
            rel,
            "companion_without_sample",
            f"{rel} is a companion file but no {'/'.join(kind.extensions)} "
            "sample of the same name is uploaded with it",
        )
        for rel in sorted(set(contents) - used)
    ]


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
