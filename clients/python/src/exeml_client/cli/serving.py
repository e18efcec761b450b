"""``exeml predict``, ``exeml models …`` and ``exeml services …``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from exeml_client.cli._common import JsonOpt, console, fail, open_client, print_json, show, table
from exeml_client.errors import APIError
from exeml_client.models import Model, Service

models_app = typer.Typer(help="AI applications (models): list, versions, export a package")
services_app = typer.Typer(help="Real-time services: list, stop, start, split the traffic between versions")


def predict(
    service_id: str,
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    as_json: JsonOpt = False,
    numbers: Annotated[
        bool,
        typer.Option(
            "--numbers", help='Confidences and box coordinates as JSON numbers (0.972), not strings ("0.972")'
        ),
    ] = False,
) -> None:
    """Predict each FILE with the service, in its task type's format (an image, a WAV, a text file, a CSV of rows,
    or a .json request body). Exits 1 if one failed. Answers are the service's: confidences and box coordinates
    as the ExeML guide's decimal strings, or numbers with --numbers."""
    answers, failed = [], 0
    with open_client() as api:
        task_type = api.services.get(service_id).task_type
        for path in files:
            try:
                answers.append(
                    {
                        "file": str(path),
                        "answer": api.services.predict(service_id, path, task_type, numbers=numbers),
                    }
                )
            except APIError as exc:
                failed += 1
                answers.append({"file": str(path), "error_code": exc.error_code, "error_msg": exc.error_msg})
    if as_json:
        print_json(answers)
    else:
        for item in answers:
            console.print(
                f"[bold]{item['file']}[/bold]",
                item.get("answer") or f"[red]{item['error_code']}[/red]: {item['error_msg']}",
            )
    if failed:
        raise typer.Exit(1)


def _models_table(items: list[Model]):
    return table(
        None,
        ["id", "name", "task type", "versions", "latest", "metrics"],
        [
            (
                m.model_id,
                m.model_name,
                m.task_type,
                m.version_count,
                m.latest_version.model_version if m.latest_version else "",
                _metrics_text(m.latest_version.metrics) if m.latest_version else "",
            )
            for m in items
        ],
    )


def _metrics_text(metrics: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, int | float))[:80]


@models_app.command("ls")
def list_models(
    model_id: Annotated[str | None, typer.Argument(help="List this model's versions")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The AI applications (or the versions of one)."""
    with open_client() as api:
        if model_id is None:
            show(list(api.models.list()), as_json, _models_table)
            return
        show(
            list(api.models.versions(model_id)),
            as_json,
            lambda vs: table(
                None,
                ["version", "status", "engine", "size", "metrics"],
                [
                    (v.model_version, v.model_status, v.engine, v.model_size, _metrics_text(v.metrics))
                    for v in vs
                ],
            ),
        )


@models_app.command("export")
def export(
    model_id: str,
    version: str,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Default: <model>-<version>.tar.gz")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a version's package (manifest.json and model files, tar.gz)."""
    dest = output or Path(f"{model_id}-{version}.tar.gz")
    with (
        open_client() as api,
        Progress(
            TextColumn(str(dest)),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            disable=as_json,
        ) as progress,
    ):
        bar = progress.add_task("export", total=None)
        api.models.export(
            model_id, version, dest, lambda done, total: progress.update(bar, completed=done, total=total)
        )
    show(
        {"file": str(dest), "bytes": dest.stat().st_size},
        as_json,
        lambda r: f"{r['file']}: {r['bytes']} bytes",
    )


def _services_table(items: list[Service]):
    return table(
        None,
        ["id", "name", "status", "versions (weight)", "calls", "auto stop at"],
        [
            (
                s.service_id,
                s.service_name,
                s.status,
                ", ".join(f"{c.model_version} ({c.weight})" for c in s.config),
                s.invocation_times,
                s.due_time,
            )
            for s in items
        ],
    )


@services_app.command("ls")
def list_services(as_json: JsonOpt = False) -> None:
    """The real-time services."""
    with open_client() as api:
        show(list(api.services.list()), as_json, _services_table)


@services_app.command("stop")
def stop(service_id: str, as_json: JsonOpt = False) -> None:
    """Stop a service (it keeps its configuration; `start` brings it back)."""
    with open_client() as api:
        show(api.services.stop(service_id), as_json, lambda s: f"service {s.service_id}: {s.status}")


@services_app.command("start")
def start(service_id: str, as_json: JsonOpt = False) -> None:
    """Start a stopped service."""
    with open_client() as api:
        show(api.services.start(service_id), as_json, lambda s: f"service {s.service_id}: {s.status}")


@services_app.command("weights")
def weights(
    service_id: str,
    shares: Annotated[list[str], typer.Argument(help="VERSION=WEIGHT …, summing to 100 (0.0.1=80 0.0.2=20)")],
    as_json: JsonOpt = False,
) -> None:
    """Split the traffic between versions of the service's model."""
    parsed: dict[str, int] = {}
    for share in shares:
        version, _, weight = share.partition("=")
        if not weight.isdigit():
            fail(f"{share!r}: write VERSION=WEIGHT, e.g. 0.0.1=80")
        parsed[version] = int(weight)
    with open_client() as api:
        service = api.services.set_weights(api.services.get(service_id), parsed)
    show(service, as_json, lambda s: _services_table([s]))
