"""Events of the workflow service (ExeML projects)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.events.base import EventContract

__all__ = ["ExecutionCompleted", "PhaseChanged", "PhaseStarted"]


class PhaseChanged(EventContract):
    """A phase of a project's execution changed status (for frontends and integrations)."""

    event_type = "workflow.phase.changed.v1"
    project_id: str
    execution_id: str
    round: int
    phase: str
    title: str
    status: str
    previous_status: str | None = None
    instance: dict[str, Any] | None = Field(default=None, description="{'type': 'training_job', 'id': ...}")
    error_msg: str | None = None


class ExecutionCompleted(EventContract):
    event_type = "workflow.execution.completed.v1"
    project_id: str
    execution_id: str
    round: int
    status: str
    model_id: str | None = None
    model_version: str | None = None
    service_id: str | None = None


class PhaseStarted(EventContract):
    """A phase whose work is another service's call was entered: the workflow's own worker makes the call, so
    the user's action (next, retry, a new round) answers at once and the phase shows running meanwhile."""

    event_type = "workflow.phase.started.v1"
    project_id: str
    execution_id: str
    phase_id: str
    phase: str
