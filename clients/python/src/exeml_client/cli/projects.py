"""``exeml projects …``: create, list, show, Next, Retry, Deploy, and watch a round live."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from exeml_client.cli._common import JsonOpt, console, fail, open_client, print_json, show, table
from exeml_client.cli.watch import summary, training_metrics, watch_project
from exeml_client.models import Project
from exeml_client.models.projects import ProjectType

projects_app = typer.Typer(help="ExeML projects: create, list, show, next, retry, deploy, watch")


def _line(project: Project) -> str:
    phase = (
        project.execution.phase(project.current_phase)
        if project.execution and project.current_phase
        else None
    )
    where = f"{phase.title}: {phase.status}" if phase else project.status
    return f"project [bold]{project.id}[/bold] {project.name} — {where}"


@projects_app.command("create")
def create(
    name: str,
    project_type: Annotated[ProjectType, typer.Option("--type")],
    dataset_id: Annotated[str, typer.Option("--dataset")],
    minutes: Annotated[int, typer.Option(help="Training budget in minutes (6–6000)")] = 60,
    label_column: Annotated[str | None, typer.Option(help="Tables: the column to predict")] = None,
    label_type: Annotated[str | None, typer.Option(help="Tables: discrete or continuous")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project on a dataset; its first round starts at once."""
    if label_type not in (None, "discrete", "continuous"):
        fail("--label-type is discrete or continuous")
    kind: Literal["discrete", "continuous"] | None = label_type  # type: ignore[assignment]  # checked just above
    with open_client() as api:
        project = api.projects.create(
            name,
            project_type,
            dataset_id,
            training_minutes=minutes,
            label_column=label_column,
            label_type=kind,
        )
    show(project, as_json, _line)


@projects_app.command("ls")
def list_projects(
    search: Annotated[str | None, typer.Option(help="Part of the name")] = None, as_json: JsonOpt = False
) -> None:
    """List the projects."""
    with open_client() as api:
        items = list(api.projects.list(search))
    show(
        items,
        as_json,
        lambda ps: table(
            None,
            ["id", "name", "type", "status", "phase", "service"],
            [(p.id, p.name, p.project_type, p.status, p.current_phase, p.service_id) for p in ps],
        ),
    )


@projects_app.command("show")
def show_project(project_id: str, as_json: JsonOpt = False) -> None:
    """A project's current round, phase by phase, and its training metrics."""
    with open_client() as api:
        project = api.projects.get(project_id)
        if as_json:
            print_json(project)
        else:
            console.print(*summary(project, api))


@projects_app.command("next")
def next_phase(project_id: str, as_json: JsonOpt = False) -> None:
    """Labeling is done: go on to publishing, checking, training, registering."""
    with open_client() as api:
        show(api.projects.next(project_id), as_json, _line)


@projects_app.command("retry")
def retry(project_id: str, as_json: JsonOpt = False) -> None:
    """Run the failed phase again."""
    with open_client() as api:
        show(api.projects.retry(project_id), as_json, _line)


@projects_app.command("stop")
def stop(project_id: str, as_json: JsonOpt = False) -> None:
    """Stop the running phase."""
    with open_client() as api:
        show(api.projects.stop(project_id), as_json, _line)


@projects_app.command("deploy")
def deploy(
    project_id: str,
    auto_stop_hours: Annotated[int | None, typer.Option(help="Stop the service after 1–24 hours")] = None,
    no_auto_stop: Annotated[
        bool, typer.Option("--no-auto-stop", help="No auto stop: the service runs until it is stopped")
    ] = False,
    specification: Annotated[str, typer.Option(help="cpu, gpu or a specification's name")] = "cpu",
    instances: Annotated[int, typer.Option(min=1, max=5)] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Deploy the round's model as a real-time service (Deploy Service awaits this); auto stop is on (1 hour
    unless --auto-stop-hours says otherwise) unless --no-auto-stop."""
    with open_client() as api:
        project = api.projects.deploy(
            project_id,
            specification=specification,
            instance_count=instances,
            auto_stop_hours=auto_stop_hours,
            auto_stop=not no_auto_stop,
        )
    show(project, as_json, _line)


@projects_app.command("watch")
def watch(project_id: str, as_json: JsonOpt = False) -> None:
    """Follow the round live until it needs you (Label Data, Deploy Service), ends or fails; then show the
    training metrics. Exits 1 when a phase failed or was stopped."""
    with open_client() as api:
        project = watch_project(api, project_id, quiet=as_json)
        if as_json:
            print_json({"project": project, "training_metrics": training_metrics(project, api)})
        else:
            console.print(*summary(project, api))
            _hint(project)
    ended = [
        p
        for p in (project.execution.phases if project.execution else [])
        if p.status in ("failed", "stopped")
    ]
    if ended or project.status in ("abnormal", "stopped"):
        phase = ended[0] if ended else None
        fail(
            f"phase {phase.title if phase else project.current_phase} {phase.status if phase else project.status}: "
            f"{(phase.error_msg if phase else None) or project.status}"
        )


def _hint(project: Project) -> None:
    awaiting = [
        p
        for p in (project.execution.phases if project.execution else [])
        if p.status in ("awaiting_operation", "awaiting_input")
    ]
    commands = {"label_data": "exeml projects next", "deploy_service": "exeml projects deploy"}
    for phase in awaiting:
        console.print(
            f"{phase.title} awaits you: [bold]{commands.get(phase.name, 'exeml projects show')} "
            f"{project.id}[/bold]"
        )
    if project.service_id and project.status == "completed":
        console.print(f"service [bold]{project.service_id}[/bold]: exeml predict {project.service_id} FILE")
