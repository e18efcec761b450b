"""``exeml projects watch``: the round's phases live, from the event stream.

A thread reads ``GET /v1/events`` (workflow, training and service events) into a queue; the main loop redraws
a bar per phase on each event of the project, and re-reads the project on each phase event and at least every
few seconds, so a missed event (before the stream connected, or a dropped one) costs a moment, never a hang.
The watch ends when the round needs the user (Label Data or Deploy Service awaiting), ends, or fails.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from exeml_client.cli._common import console, table
from exeml_client.client import Client
from exeml_client.events import Event
from exeml_client.models import Phase, Project

__all__ = ["settled", "watch_project"]

EVENT_TYPES = ["workflow.*", "training.job.*", "inference.service.*"]
_REFRESH_SECONDS = 3.0


def settled(project: Project) -> bool:
    """The round waits for the user, has ended, or has failed: nothing more happens by itself."""
    execution = project.execution
    if execution is None or execution.status in ("completed", "stopped", "abnormal"):
        return True
    return any(
        p.status in ("awaiting_operation", "awaiting_input", "failed", "stopped") for p in execution.phases
    )


def _pump(api: Client, events: queue.Queue[Event | Exception]) -> None:
    try:
        for event in api.events(EVENT_TYPES):
            events.put(event)
    except Exception as exc:  # noqa: BLE001  # the stream is best effort: the loop polls without it
        events.put(exc)


def _percent(phase: Phase, training: dict[str, float]) -> float:
    if phase.status == "executed":
        return 100.0
    if phase.name == "train":
        job = phase.instance.id if phase.instance else ""
        return max(phase.progress or 0.0, training.get(job, 0.0))
    return 0.0


def _draw(progress: Progress, bars: dict[str, TaskID], project: Project, training: dict[str, float]) -> None:
    for phase in project.execution.phases if project.execution else []:
        label = f"{phase.title:<28} {phase.status}"
        if phase.name not in bars:
            bars[phase.name] = progress.add_task(label, total=100)
        progress.update(bars[phase.name], description=label, completed=_percent(phase, training))


def _concerns(event: Event, project: Project) -> bool:
    data = event.data
    return data.get("project_id") == project.id or (
        project.service_id is not None and data.get("service_id") == project.service_id
    )


def watch_project(api: Client, project_id: str, *, quiet: bool = False) -> Project:
    """Follow the project until :func:`settled`; returns its last state."""
    events: queue.Queue[Event | Exception] = queue.Queue()
    threading.Thread(target=_pump, args=(api, events), daemon=True, name="exeml-events").start()
    training: dict[str, float] = {}
    bars: dict[str, TaskID] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as progress:
        project = api.projects.get(project_id)
        deadline = time.monotonic() + _REFRESH_SECONDS
        while True:
            _draw(progress, bars, project, training)
            if settled(project):
                return project
            if _wait_for_news(events, project, training, deadline):
                project = api.projects.get(project_id)
                deadline = time.monotonic() + _REFRESH_SECONDS


def _wait_for_news(
    events: queue.Queue[Event | Exception], project: Project, training: dict[str, float], deadline: float
) -> bool:
    """Take events until one changes a phase (True) or the deadline passes (True: re-read anyway)."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if isinstance(event, Exception) or not _concerns(event, project):
            continue
        if event.type.startswith("training.job.progressed"):
            training[event.data["job_id"]] = float(event.data.get("progress") or 0)
            return False  # redraw now; the project itself has not moved
        return True
    return True


def summary(project: Project, api: Client) -> Any:
    """The phases and, once trained, the training metrics."""
    phases = project.execution.phases if project.execution else []
    rows = [
        (p.title, p.status, f"{p.duration_seconds:.0f} s" if p.duration_seconds else "", p.error_msg or "")
        for p in phases
    ]
    out = [
        table(
            f"project {project.name}: round {project.rounds}, {project.status}",
            ["phase", "status", "took", "error"],
            rows,
        )
    ]
    metrics = training_metrics(project, api)
    if metrics:
        out.append(table("training metrics", ["metric", "value"], sorted(metrics.items())))
    return out


def training_metrics(project: Project, api: Client) -> dict[str, Any]:
    train = next(
        (p for p in (project.execution.phases if project.execution else []) if p.name == "train"), None
    )
    if train is None or train.status != "executed":
        return {}
    metrics = train.outputs.get("metrics")
    if not metrics and train.instance:
        metrics = api.projects.training_job(train.instance.id).metrics
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, int | float | str)}
