"""Datasets: create, read, list, update, delete; import tasks and synchronisation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dataset import tasks
from dataset.config import Settings
from dataset.errors import DatasetExists, ImportRunning
from dataset.importer import run_import
from dataset.layouts import input_folder
from dataset.models import Dataset, DatasetStatus, ImportTask, TaskStatus
from dataset.repository import DatasetRepository, ImportTaskRepository
from dataset.schemas import DatasetCreate, DatasetRead, DatasetUpdate, ImportTaskCreate, ImportTaskRead
from dataset.types import KINDS
from shared.context import new_id
from shared.db import Page
from shared.db.search import contains
from shared.errors import ErrorDetail, InvalidInput
from shared.events.dataset import DatasetCreated, DatasetDeleted
from shared.service import ServiceRuntime
from shared.storage import S3Uri

__all__ = ["DatasetService", "dataset_read", "task_read"]


def dataset_read(
    ds: Dataset, counts: tuple[int, int, int] = (0, 0, 0), import_task_id: str | None = None
) -> DatasetRead:
    samples, labeled, rows = counts
    return DatasetRead(
        dataset_id=ds.id,
        dataset_name=ds.name,
        dataset_type=ds.dataset_type,
        dataset_type_name=KINDS[ds.dataset_type].name,
        description=ds.description,
        input_path=ds.input_path,
        work_path=ds.work_path,
        label_column=ds.label_column,
        with_column_header=ds.with_column_header,
        table_schema=ds.table_schema,
        status=ds.status,
        sample_count=samples,
        labeled_sample_count=labeled,
        unlabeled_sample_count=samples - labeled,
        row_count=rows if ds.dataset_type == 400 else None,
        create_time=ds.created_at,
        update_time=ds.updated_at,
        import_task_id=import_task_id,
    )


def task_read(task: ImportTask) -> ImportTaskRead:
    return ImportTaskRead(
        task_id=task.id,
        dataset_id=task.dataset_id,
        import_path=task.import_path,
        import_type=task.import_type,
        kind=task.kind,
        status=task.status,
        total_sample_count=task.total_count,
        processed_sample_count=task.processed_count,
        imported_sample_count=task.added_count,
        skipped_sample_count=task.skipped_count,
        failed_sample_count=task.failed_count,
        annotated_sample_count=task.annotated_count,
        errors=list(task.errors or []),
        warnings=list(task.warnings or []),
        error_msg=task.error_msg,
        create_time=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


class DatasetService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.datasets = DatasetRepository(session, tenant_id)
        self.tasks = ImportTaskRepository(session, tenant_id)
        self.storage = runtime.tenant_storage(tenant_id)

    def _own_path(self, path: str | None, field: str) -> str | None:
        """The canonical form of a path the tenant may name (403 naming the path and the rule otherwise)."""
        return None if path is None else str(self.storage.resolve(path, field=field))

    async def create(self, body: DatasetCreate) -> DatasetRead:
        body = _from_data_source(body)
        if await self.datasets.by_name(body.dataset_name) is not None:
            raise DatasetExists(
                f"dataset {body.dataset_name} already exists",
                details=[
                    ErrorDetail("dataset_name_unique", "dataset names are unique", field="dataset_name")
                ],
            )
        assert body.dataset_type is not None
        input_path, work_path = (
            self._own_path(body.input_path, "input_path"),
            self._own_path(body.work_path, "work_path"),
        )
        ds = Dataset(
            name=body.dataset_name,
            description=body.description,
            dataset_type=body.dataset_type,
            input_path="",
            work_path="",
            label_column=body.label_column,
            with_column_header=body.with_column_header,
            status=DatasetStatus.NORMAL,
        )
        ds.id = new_id()
        ds.input_path = input_path or str(self.storage.dataset_folder(ds.id, "input"))
        ds.work_path = work_path or str(self.storage.dataset_folder(ds.id, "output"))
        _check_apart(ds.input_path, ds.work_path)
        _check_table_input(ds.dataset_type, ds.input_path)
        await self.datasets.add(ds)
        kind = KINDS[ds.dataset_type]
        await self.runtime.outbox.add(
            self.session,
            DatasetCreated(
                dataset_id=ds.id,
                name=ds.name,
                dataset_type=ds.dataset_type,
                dataset_type_name=kind.name,
                label_column=ds.label_column,
            ),
            subject=ds.id,
            tenant_id=self.tenant_id,
        )
        task_id = None
        if body.input_path and body.import_on_create:
            task = await self.start_import(ds, ImportTaskCreate(import_annotations=body.import_annotations))
            task_id = task.id
        return dataset_read(ds, import_task_id=task_id)

    async def read(self, dataset_id: str) -> DatasetRead:
        ds = await self.datasets.get(dataset_id)
        counts = await self.datasets.counts([ds.id])
        return dataset_read(ds, counts.get(ds.id, (0, 0, 0)))

    async def list(
        self, *, offset: int, limit: int, dataset_type: int | None, search: str | None
    ) -> Page[DatasetRead]:
        where: list[Any] = []
        if dataset_type is not None:
            where.append(Dataset.dataset_type == dataset_type)
        if search:
            where.append(contains(Dataset.name, search))
        page = await self.datasets.list(*where, offset=offset, limit=limit)
        counts = await self.datasets.counts([d.id for d in page.items])
        return Page([dataset_read(d, counts.get(d.id, (0, 0, 0))) for d in page.items], page.total)

    async def update(self, dataset_id: str, body: DatasetUpdate) -> DatasetRead:
        ds = await self.datasets.get(dataset_id)
        if body.dataset_name and body.dataset_name != ds.name:
            if await self.datasets.by_name(body.dataset_name) is not None:
                raise DatasetExists(f"dataset {body.dataset_name} already exists")
            ds.name = body.dataset_name
        if body.description is not None:
            ds.description = body.description
        if body.label_column is not None:
            if ds.dataset_type != 400:
                raise InvalidInput(
                    "only tables have a label column",
                    details=[
                        ErrorDetail(
                            "label_column", "label_column applies to table datasets", field="label_column"
                        )
                    ],
                )
            names = [c["name"] for c in ds.table_schema or []]
            if names and body.label_column not in names:
                raise InvalidInput(
                    f"{body.label_column!r} is not a column",
                    details=[ErrorDetail("label_column", f"choose one of {names}", field="label_column")],
                )
            ds.label_column = body.label_column
        await self._move(ds, body)
        await self.session.flush()
        return await self.read(ds.id)

    async def _move(self, ds: Dataset, body: DatasetUpdate) -> None:
        """New input/work folders: checked like at creation; samples already imported stay."""
        if body.input_path is None and body.work_path is None:
            return
        input_path = self._own_path(body.input_path, "input_path") or ds.input_path
        work_path = self._own_path(body.work_path, "work_path") or ds.work_path
        _check_apart(input_path, work_path)
        _check_table_input(ds.dataset_type, input_path)
        if input_path != ds.input_path and await self.tasks.running(ds.id) is not None:
            raise ImportRunning("an import or synchronisation of this dataset is running")
        ds.input_path, ds.work_path = input_path, work_path

    async def delete(self, dataset_id: str) -> None:
        ds = await self.datasets.get(dataset_id)
        await self.datasets.delete(ds)
        await self.runtime.outbox.add(
            self.session, DatasetDeleted(dataset_id=dataset_id), subject=dataset_id, tenant_id=self.tenant_id
        )

    async def start_import(self, ds: Dataset, body: ImportTaskCreate, *, kind: str = "import") -> ImportTask:
        if await self.tasks.running(ds.id) is not None:
            raise ImportRunning("an import or synchronisation of this dataset is running")
        path = self._own_path(body.import_path, "import_path") or str(
            self.storage.resolve(ds.input_path, field="input_path")
        )
        import_type = body.import_type or ("manifest" if path.endswith(".manifest") else "dir")
        task = ImportTask(
            dataset_id=ds.id,
            import_path=path,
            import_type=import_type,
            kind=kind,
            import_annotations=body.import_annotations,
            status=TaskStatus.QUEUED,
            errors=[],
            warnings=[],
        )
        await self.tasks.add(task)
        runtime, tenant_id, task_id = self.runtime, self.tenant_id, task.id
        tasks.start_after_commit(
            self.session, runtime, lambda: run_import(runtime, tenant_id, task_id), f"import-{task_id}"
        )
        return task

    async def import_tasks(self, dataset_id: str, *, offset: int, limit: int) -> Page[ImportTask]:
        await self.datasets.get(dataset_id)
        return await self.tasks.list(ImportTask.dataset_id == dataset_id, offset=offset, limit=limit)

    async def import_task(self, dataset_id: str, task_id: str) -> ImportTask:
        task = await self.tasks.get(task_id)
        if task.dataset_id != dataset_id:
            await self.tasks.get("")
        return task


def _from_data_source(body: DatasetCreate) -> DatasetCreate:
    """ModelArts' ``data_sources[0]`` as our fields: its path is the input path, its header flag the table's."""
    if not body.data_sources:
        return body
    source = body.data_sources[0]
    if body.input_path is not None:
        raise InvalidInput.for_field(
            "data_sources", "data_sources_or_input_path", "give either data_sources or input_path, not both"
        )
    header = source.with_column_header
    if (
        header is not None
        and "with_column_header" in body.model_fields_set
        and header != body.with_column_header
    ):
        raise InvalidInput.for_field(
            "with_column_header",
            "with_column_header_twice",
            "with_column_header differs from data_sources[0].with_column_header",
        )
    update: dict[str, Any] = {"input_path": source.data_path}
    if header is not None:
        update["with_column_header"] = header
    return body.model_copy(update=update)


def _check_apart(input_path: str, work_path: str) -> None:
    """Versions are written to the work path: it must not lie inside the input path (an import would read them)."""
    if work_path.startswith(input_path):
        raise InvalidInput(
            "work_path must not be inside input_path",
            details=[
                ErrorDetail(
                    "work_path_inside_input", f"{work_path} lies inside {input_path}", field="work_path"
                )
            ],
        )


def _check_table_input(dataset_type: int, input_path: str) -> None:
    """The guide: a table's files "must be stored in a folder in an OBS bucket rather than the root directory"
    (a bucket root, or one CSV file at it, is refused)."""
    if dataset_type != 400 or S3Uri.parse(input_folder(input_path)).key:
        return
    raise InvalidInput.for_field(
        "input_path",
        "table_bucket_root",
        f"a table's files must be in a folder of a bucket, not at the root of bucket "
        f"{S3Uri.parse(input_path).bucket} (e.g. s3://<bucket>/data/input.csv)",
        value=input_path,
    )
