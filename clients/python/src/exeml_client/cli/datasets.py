"""``exeml datasets …`` and ``exeml labels …``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from exeml_client.cli._common import JsonOpt, console, fail, open_client, print_json, show, table
from exeml_client.client import Client
from exeml_client.models import Dataset, ImportTask
from exeml_client.models.datasets import DatasetTypeName
from exeml_client.uploads import plan_batches, upload_folder

datasets_app = typer.Typer(help="Datasets: create, upload a folder, import from object storage, sync, list")
labels_app = typer.Typer(help="Labels of a dataset: list, create, rename, delete, statistics, label samples")


class AmountColumn(ProgressColumn):
    """``7/13`` for a count of files, ``1.2/4.0 MB`` for bytes (one progress, two bars)."""

    def __init__(self) -> None:
        super().__init__()
        self._files, self._bytes = MofNCompleteColumn(), DownloadColumn()

    def render(self, task: Task) -> Text:
        column = self._bytes if task.fields.get("unit") == "bytes" else self._files
        return column.render(task)


def _datasets_table(items: list[Dataset]):
    return table(
        None,
        ["id", "name", "type", "samples", "labeled", "input path"],
        [
            (
                d.dataset_id,
                d.dataset_name,
                d.dataset_type_name,
                d.sample_count,
                d.labeled_sample_count,
                d.input_path,
            )
            for d in items
        ],
    )


@datasets_app.command("ls")
def list_datasets(
    search: Annotated[str | None, typer.Option(help="Part of the name")] = None, as_json: JsonOpt = False
) -> None:
    """List the datasets."""
    with open_client() as api:
        show(list(api.datasets.list(search)), as_json, _datasets_table)


@datasets_app.command("create")
def create_dataset(
    name: str,
    dataset_type: Annotated[DatasetTypeName, typer.Option("--type", help="What the samples are")],
    input_path: Annotated[
        str | None, typer.Option("--input", help="s3://bucket/folder/ to import now")
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="Tables: the column to predict")] = None,
    description: str = "",
    wait: Annotated[bool, typer.Option(help="With --input: follow the import until it ends")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Create a dataset (empty, to upload into; or imported from ``--input``)."""
    with open_client() as api:
        dataset = api.datasets.create(
            name, dataset_type, description=description, input_path=input_path, label_column=label_column
        )
        task = None
        if dataset.import_task_id and wait:
            task = _follow_task(
                api, api.datasets.import_task(dataset.dataset_id, dataset.import_task_id), as_json
            )
            dataset = api.datasets.get(dataset.dataset_id)
    show(dataset, as_json, lambda d: f"dataset [bold]{d.dataset_id}[/bold] ({d.dataset_type_name}) created")
    if task is not None:
        _report_task(task, as_json, quiet=as_json)


@datasets_app.command("upload")
def upload(
    dataset_id: str,
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    as_json: JsonOpt = False,
) -> None:
    """Upload every file of FOLDER (labels in same-stem .txt/.xml files travel with their samples)."""
    batches = plan_batches(folder)
    files, size = sum(len(b) for b in batches), sum(p.stat().st_size for b in batches for p in b)
    with (
        open_client() as api,
        Progress(
            TextColumn("{task.description:<5}"),
            BarColumn(),
            AmountColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        by_files = progress.add_task("files", total=files, unit="files")
        by_bytes = progress.add_task("bytes", total=size, unit="bytes")

        def advance(n: int, nbytes: int) -> None:
            progress.advance(by_files, n)
            progress.advance(by_bytes, nbytes)

        outcomes = upload_folder(api, dataset_id, folder, advance)
    problems = [o for o in outcomes if o.status != "uploaded" or o.rule]  # a stored file's rule: a warning
    counts = {s: sum(o.status == s for o in outcomes) for s in ("uploaded", "skipped", "failed")}
    if as_json:
        print_json({**counts, "files": [o.__dict__ for o in outcomes]})
    else:
        console.print(
            f"{counts['uploaded']} uploaded, {counts['skipped']} skipped, {counts['failed']} failed"
        )
        if problems:
            console.print(
                table(
                    "files not uploaded, or uploaded with a warning",
                    ["file", "status", "rule", "message"],
                    [(o.file, o.status, o.rule, o.msg) for o in problems],
                )
            )
    if counts["failed"]:
        raise typer.Exit(1)


def _follow_task(api: Client, task: ImportTask, as_json: bool) -> ImportTask:
    """Poll the import task with a bar over the files it processed."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, disable=as_json
    ) as progress:
        bar = progress.add_task(f"{task.kind} {task.import_path}", total=None)
        while task.status in ("QUEUED", "RUNNING"):
            progress.update(bar, total=task.total_sample_count or None, completed=task.processed_sample_count)
            time.sleep(0.5)
            task = api.datasets.import_task(task.dataset_id, task.task_id)
        progress.update(bar, total=task.total_sample_count, completed=task.processed_sample_count)
    return task


def _report_task(task: ImportTask, as_json: bool, quiet: bool = False) -> None:
    """The task's counts and files not imported; exits 1 if it failed or left files out."""
    if not quiet:
        show(
            task,
            as_json,
            lambda t: (
                f"{t.kind} {t.status}: {t.imported_sample_count} imported, "
                f"{t.skipped_sample_count} skipped, {t.failed_sample_count} failed"
            ),
        )
    if not as_json and task.errors:
        console.print(
            table(
                "files not imported",
                ["file", "rule", "message"],
                [(e.file, e.rule, e.msg) for e in task.errors],
            )
        )
    if task.status == "FAILED" or task.failed_sample_count:
        fail(task.error_msg or f"{task.failed_sample_count} files were not imported")


@datasets_app.command("import")
def import_files(
    dataset_id: str,
    path: Annotated[str, typer.Argument(help="s3://bucket/folder/ or a manifest")],
    manifest: Annotated[bool, typer.Option(help="PATH is a ModelArts manifest")] = False,
    wait: Annotated[bool, typer.Option(help="Follow the import until it ends")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Import files from object storage into the dataset."""
    with open_client() as api:
        task = api.datasets.import_files(dataset_id, path, manifest=manifest)
        _report_task(_follow_task(api, task, as_json) if wait else task, as_json)


@datasets_app.command("sync")
def sync(
    dataset_id: str,
    wait: Annotated[bool, typer.Option(help="Follow the sync until it ends")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Pick up what changed in the dataset's input path."""
    with open_client() as api:
        task = api.datasets.sync(dataset_id)
        _report_task(_follow_task(api, task, as_json) if wait else task, as_json)


@labels_app.command("ls")
def list_labels(dataset_id: str, as_json: JsonOpt = False) -> None:
    """The dataset's labels with their sample counts."""
    with open_client() as api:
        stats = api.labels.stats(dataset_id)
    show(
        stats,
        as_json,
        lambda s: table(
            f"{s.sample_stats.labeled} labeled, {s.sample_stats.unlabeled} unlabeled",
            ["label", "samples", "annotations"],
            [(label.name, label.sample_count, label.count) for label in s.label_stats],
        ),
    )


@labels_app.command("create")
def create_label(
    dataset_id: str,
    name: str,
    color: Annotated[str | None, typer.Option(help="#rrggbb (detection, text)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a label to the dataset's label set."""
    with open_client() as api:
        show(api.labels.create(dataset_id, name, color=color), as_json, lambda x: f"label {x.name} created")


@labels_app.command("rename")
def rename_label(dataset_id: str, name: str, new_name: str, as_json: JsonOpt = False) -> None:
    """Rename a label (its annotations follow)."""
    with open_client() as api:
        show(
            api.labels.rename(dataset_id, name, new_name), as_json, lambda x: f"label {name} is now {x.name}"
        )


@labels_app.command("delete")
def delete_label(
    dataset_id: str,
    name: str,
    policy: Annotated[
        int, typer.Option(min=0, max=2, help="0 label only, 1 and its annotations, 2 and its samples")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Delete a label."""
    with open_client() as api:
        show(
            api.labels.delete(dataset_id, name, delete_policy=policy),
            as_json,  # type: ignore[arg-type]  # typer passes the policy as the Literal it checked
            lambda r: f"label {r.name} deleted; {r.changed_sample_count} samples changed",
        )


@labels_app.command("add")
def add_label(dataset_id: str, name: str, sample_ids: list[str], as_json: JsonOpt = False) -> None:
    """Give label NAME to the samples."""
    with open_client() as api:
        show(
            api.labels.add(dataset_id, name, sample_ids),
            as_json,
            lambda r: f"{r.get('changed_sample_count', 0)} samples labeled {name}",
        )
