"""Import tasks: list an s3:// folder (or read a manifest), validate every file, store the good samples.

Work is done in batches, each one transaction (samples + events + task progress), so an interruption keeps
what was stored and a re-run (or a synchronisation) skips the files already imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from dataset.config import Settings
from dataset.layouts import (
    WARNING_RULES,
    Candidate,
    FileError,
    TableContext,
    Unit,
    UnitRejected,
    build_unit,
    group_units,
    input_folder,
    of_one_file,
)
from dataset.leases import failure_reason, run_leased
from dataset.manifest_import import manifest_units
from dataset.models import Dataset, DatasetStatus, ImportTask, TaskStatus
from dataset.repository import DatasetRepository, SampleRepository
from dataset.types import KINDS, DatasetKind
from dataset.validation import Rejected
from dataset.writer import add_samples
from shared.db.base import utcnow
from shared.errors import NotFound
from shared.events.dataset import ImportCompleted
from shared.logging import get_logger
from shared.service import ServiceRuntime
from shared.storage import S3Uri
from shared.storage.tenancy import TenantStorage

__all__ = ["run_import"]

log = get_logger(__name__)
Loader = Callable[[str], Awaitable[bytes]]


async def run_import(runtime: ServiceRuntime[Settings], tenant_id: str, task_id: str) -> None:
    async def failed(exc: Exception) -> None:  # what was stored stays stored
        await _finish(runtime, tenant_id, task_id, TaskStatus.FAILED, failure_reason(exc))

    await run_leased(
        runtime,
        ImportTask,
        tenant_id,
        task_id,
        TaskStatus.RUNNING,
        lambda: _run(runtime, tenant_id, task_id),
        failed,
    )


def _limit_for(path: str, kind: DatasetKind, settings: Settings) -> int:
    lower = path.lower()
    if lower.endswith((".txt", ".xml")) and not kind.is_text:
        return settings.text_max_bytes
    return {
        0: settings.image_max_bytes,
        1: settings.image_max_bytes,
        100: settings.text_max_bytes,
        200: settings.audio_max_bytes,
        400: settings.table_max_bytes,
    }[kind.code]


async def _run(runtime: ServiceRuntime[Settings], tenant_id: str, task_id: str) -> None:
    settings = runtime.settings
    async with runtime.db.session() as session:
        task = await session.get_one(ImportTask, task_id)
        dataset = await session.get_one(Dataset, task.dataset_id)
        assert task is not None and dataset is not None and dataset.tenant_id == tenant_id
        task.started_at = task.started_at or utcnow()
        dataset.status = DatasetStatus.IMPORTING
        samples = SampleRepository(session, tenant_id)
        existing = await samples.source_keys(dataset.id)
        deleted = await samples.deleted_files(dataset.id)
        table_rows = await DatasetRepository(session, tenant_id).table_rows(dataset.id)
    kind = KINDS[dataset.dataset_type]
    storage = runtime.tenant_storage(tenant_id)  # the path was checked at creation; checked again now
    if task.import_type == "manifest":
        units, errors, load = await manifest_units(storage, task.import_path, kind, settings)
    else:
        units, errors, load = await _folder_units(storage, task.import_path, kind, settings)
    # Skipped, not failed: files already imported, and files of deleted samples (deletions stay deleted).
    files_done = {k.split("#", 1)[0] for k in existing} | deleted
    todo = [u for u in units if u.uri not in files_done]
    await _progress(runtime, task_id, total=len(units), skipped=len(units) - len(todo), errors=errors)
    table = (
        TableContext(
            dataset.with_column_header,
            dataset.label_column,
            dataset.table_schema,
            rows=table_rows,
            min_rows=settings.check_min_table_records,
        )
        if kind.is_table
        else None
    )
    concurrency = 1 if kind.is_table else settings.import_concurrency
    batches = [
        todo[i : i + settings.import_batch_size] for i in range(0, len(todo), settings.import_batch_size)
    ]

    def build(batch: list[Unit]) -> asyncio.Task[tuple[list[Candidate], list[FileError]]]:
        return asyncio.ensure_future(
            _build(batch, kind, load, settings, table, task.import_annotations, concurrency)
        )

    # Pipelined: the next batch is fetched and validated while the current one is written (tables stay
    # sequential: each part is checked against the schema the previous ones set).
    pending = build(batches[0]) if batches else None
    for index, batch in enumerate(batches):
        assert pending is not None  # set before each batch: the first above, the next below
        candidates, batch_errors = await pending
        more = index + 1 < len(batches)
        pending = build(batches[index + 1]) if more and not kind.is_table else None
        # The row rule is the table's: reported once, for the table the task leaves.
        warnings = [w for c in candidates for w in c.warnings]
        warnings += table.row_warnings() if table is not None and not more else []
        await _store_batch(
            runtime, tenant_id, task_id, dataset.id, candidates, batch_errors, len(batch), table, warnings
        )
        if more and pending is None:
            pending = build(batches[index + 1])
    await _finish(runtime, tenant_id, task_id, TaskStatus.COMPLETED, None)


async def _folder_units(storage: TenantStorage, import_path: str, kind: DatasetKind, settings: Settings):
    """The folder's files as units; files are named relative to the folder (errors never name other objects).
    A path naming one file (a table's ``…/input.csv``) imports that file (and its label file) of its folder."""
    root = storage.folder(input_folder(import_path), field="import_path")
    listing = await storage.list(root)
    sizes = {info.key[len(root.key) :]: info.size for info in listing if not info.key.endswith("/")}
    names = sorted(sizes) if import_path.endswith("/") else of_one_file(import_path, sorted(sizes), kind)
    units, errors = group_units(names, kind, lambda rel: str(S3Uri(root.bucket, root.key + rel)))

    async def load(rel: str) -> bytes:
        if sizes.get(rel, 0) > _limit_for(rel, kind, settings):
            raise Rejected(
                "file_too_large",
                f"the file has {sizes[rel]} bytes; at most {_limit_for(rel, kind, settings)}",
            )
        try:
            return await storage.get(S3Uri(root.bucket, root.key + rel))
        except NotFound as exc:
            raise Rejected("file_missing", "the object disappeared during the import") from exc

    return units, errors, load


async def _build(
    units: list[Unit],
    kind: DatasetKind,
    load: Loader,
    settings: Settings,
    table: TableContext | None,
    import_annotations: bool,
    concurrency: int,
) -> tuple[list[Candidate], list[FileError]]:
    semaphore = asyncio.Semaphore(concurrency)
    errors: list[FileError] = []

    async def one(unit: Unit) -> list[Candidate]:
        async with semaphore:
            try:
                cands = await build_unit(
                    unit, kind, load, settings, table, import_annotations=import_annotations, warnings=errors
                )
            except UnitRejected as exc:
                errors.append(exc.error)
                return []
            if table is not None and cands:
                table.add(cands[0])
            return cands

    results = await asyncio.gather(*(one(u) for u in units))
    return [c for cands in results for c in cands], errors


async def _store_batch(
    runtime: ServiceRuntime[Settings],
    tenant_id: str,
    task_id: str,
    dataset_id: str,
    candidates: list[Candidate],
    errors: list[FileError],
    unit_count: int,
    table: TableContext | None,
    warnings: list[FileError],
) -> None:
    failed_files = {e.file for e in errors if e.rule not in WARNING_RULES}
    async with runtime.db.session() as session:
        dataset = await session.get_one(Dataset, dataset_id)
        if table is not None and dataset.table_schema is None and table.schema is not None:
            dataset.table_schema = table.schema
            if dataset.label_column is None:
                dataset.label_column = table.schema[-1]["name"]
        await add_samples(session, runtime, dataset, candidates, task_id)
        task = await session.get_one(ImportTask, task_id)
        task.processed_count += unit_count
        task.added_count += len(candidates)
        task.annotated_count += sum(1 for c in candidates if c.annotations)
        task.failed_count += len(failed_files)
        task.errors = _merged(task.errors, errors, runtime.settings.max_reported_errors)
        task.warnings = _merged(task.warnings, warnings, runtime.settings.max_reported_errors)


async def _progress(
    runtime: ServiceRuntime[Settings], task_id: str, *, total: int, skipped: int, errors: list[FileError]
) -> None:
    async with runtime.db.session() as session:
        task = await session.get_one(ImportTask, task_id)
        task.total_count, task.skipped_count = total, skipped
        task.failed_count += len(errors)
        task.errors = _merged(task.errors, errors, runtime.settings.max_reported_errors)


def _merged(current: list[dict[str, Any]] | None, new: list[FileError], cap: int) -> list[dict[str, Any]]:
    return (list(current or []) + [e.as_dict() for e in new])[:cap]


async def _finish(
    runtime: ServiceRuntime[Settings], tenant_id: str, task_id: str, status: TaskStatus, error_msg: str | None
) -> None:
    async with runtime.db.session() as session:
        task = await session.get(ImportTask, task_id)
        if task is None:  # the dataset was deleted meanwhile (its tasks with it)
            return
        dataset = await session.get(Dataset, task.dataset_id)
        task.status, task.error_msg, task.finished_at = status, error_msg, utcnow()
        if dataset is not None:
            dataset.status = DatasetStatus.NORMAL
        await runtime.outbox.add(
            session,
            ImportCompleted(
                dataset_id=task.dataset_id,
                import_id=task.id,
                status="completed" if status == TaskStatus.COMPLETED else "failed",
                added=task.added_count,
                failed=task.failed_count,
                error_msg=error_msg,
            ),
            subject=task.dataset_id,
            tenant_id=tenant_id,
        )
    log.info("import task finished", task_id=task_id, status=status)
