"""The saga of one ExeML round: each phase calls a service's API and is completed by that service's event.

Every transition is written in the caller's transaction (a request or a consumed event, claimed in the
inbox), together with a ``workflow.phase.changed.v1`` outbox row, so a restart of any service in the middle
of a round loses nothing: the state is in the database and the events that move it are redelivered until
handled. A phase whose event arrives before the phase is entered (the registry may register a model before
the workflow has seen the training job succeed) is completed early and skipped when it is reached.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utcnow
from shared.errors import Conflict, ErrorDetail, ExeMLError, InvalidInput, NotFound
from shared.events.workflow import ExecutionCompleted, PhaseChanged
from shared.logging import get_logger
from shared.service import ServiceRuntime
from workflow.models import Execution, Phase, Project
from workflow.phases import phase_plan

__all__ = ["WorkflowEngine"]

log = get_logger(__name__)
_ID = re.compile(r"[0-9a-f]{32}")
ACTIVE = ("running", "awaiting_operation", "awaiting_input")


class WorkflowEngine:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime, tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id

    # ---- queries -------------------------------------------------------------------------------------
    async def project(self, project_id: str) -> Project:
        if not _ID.fullmatch(project_id):  # not an id we hand out (control characters never reach PostgreSQL)
            raise NotFound(f"project {project_id[:64]!r} does not exist", error_code="ModelArts.7512")
        row = await self.session.scalar(
            sa.select(Project).where(Project.id == project_id, Project.tenant_id == self.tenant_id))
        if row is None:
            raise NotFound(f"project {project_id} does not exist", error_code="ModelArts.7512")
        return row

    async def current_execution(self, project: Project) -> Execution | None:
        return await self.session.scalar(
            sa.select(Execution).where(Execution.project_id == project.id, Execution.tenant_id == self.tenant_id)
            .order_by(Execution.round.desc()).limit(1))

    async def current_round(self, project: Project) -> tuple[Execution | None, list[Phase]]:
        """The latest execution and its phases, read in one statement: one snapshot, so a reader never sees
        the last phase executed while its execution still runs (two queries could straddle a commit)."""
        latest = (sa.select(sa.func.max(Execution.round))
                  .where(Execution.project_id == project.id, Execution.tenant_id == self.tenant_id).scalar_subquery())
        rows = (await self.session.execute(
            sa.select(Execution, Phase).join(Phase, Phase.execution_id == Execution.id)
            .where(Execution.project_id == project.id, Execution.tenant_id == self.tenant_id, Execution.round == latest)
            .order_by(Phase.position))).all()
        return (rows[0][0], [phase for _, phase in rows]) if rows else (None, [])

    async def phases(self, execution: Execution) -> list[Phase]:
        rows = await self.session.scalars(
            sa.select(Phase).where(Phase.execution_id == execution.id).order_by(Phase.position))
        return list(rows)

    async def phase_by_instance(self, instance_type: str, instance_id: str) -> Phase | None:
        """The phase that created the instance; a service outlives rounds, so the running phase comes first,
        then the newest."""
        return await self.session.scalar(
            sa.select(Phase).where(Phase.tenant_id == self.tenant_id, Phase.instance_type == instance_type,
                                   Phase.instance_id == instance_id)
            .order_by((Phase.status == "running").desc(), Phase.created_at.desc()).limit(1))

    async def sibling(self, phase: Phase, name: str) -> Phase | None:
        return await self.session.scalar(
            sa.select(Phase).where(Phase.execution_id == phase.execution_id, Phase.name == name))

    # ---- rounds --------------------------------------------------------------------------------------
    async def start_round(self, project: Project, parameters: dict[str, Any] | None = None) -> Execution:
        current = await self.current_execution(project)
        if current is not None and current.status == "running":
            busy = [p for p in await self.phases(current) if p.status == "running"]
            if busy:
                raise Conflict(f"round {current.round} is still running phase {busy[0].name}; stop it first",
                               error_code="ModelArts.7520")
            current.status, current.ended_at = "stopped", utcnow()
        project.rounds += 1
        execution = Execution(tenant_id=self.tenant_id, project_id=project.id, round=project.rounds,
                              status="running", parameters=parameters or {})
        self.session.add(execution)
        await self.session.flush()
        for position, (name, title) in enumerate(phase_plan(project.project_type)):
            self.session.add(Phase(tenant_id=self.tenant_id, execution_id=execution.id, project_id=project.id,
                                   name=name, title=title, position=position, status="init"))
        await self.session.flush()
        await self._enter((await self.phases(execution))[0], project, execution)
        return execution

    # ---- user actions --------------------------------------------------------------------------------
    async def next(self, project: Project) -> Phase:
        """'Next' after labeling (the Label Data phase awaits this operation)."""
        execution, phase = await self._active(project)
        if phase.name != "label_data" or phase.status != "awaiting_operation":
            raise Conflict(f"phase {phase.name} is {phase.status}: nothing awaits 'next'",
                           error_code="ModelArts.7521")
        await self._complete(phase, project, execution, {})
        return phase

    async def retry(self, project: Project) -> Phase:
        execution = await self._execution(project)
        failed = [p for p in await self.phases(execution) if p.status in ("failed", "stopped")]
        if not failed:
            raise Conflict("no failed or stopped phase to retry", error_code="ModelArts.7522")
        phase = failed[0]
        execution.status, execution.ended_at = "running", None
        phase.error_msg, phase.instance_id, phase.instance_type, phase.progress = None, None, None, None
        await self._enter(phase, project, execution)
        return phase

    async def stop(self, project: Project) -> Phase:
        execution, phase = await self._active(project)
        if phase.name == "train" and phase.instance_id and phase.status == "running":
            await self._call("trainer", "POST", f"/v1/training-jobs/{phase.instance_id}/stop", phase)
        await self._set(phase, "stopped", project, execution)
        execution.status, execution.ended_at = "stopped", utcnow()
        project.status = "stopped"
        return phase

    async def deploy(self, project: Project, request: dict[str, Any]) -> Phase:
        """Deploy Service (awaiting input): create the service, or add this round's version to it."""
        execution, phase = await self._active(project)
        if phase.name != "deploy_service" or phase.status != "awaiting_input":
            raise Conflict(f"phase {phase.name} is {phase.status}: deployment is not awaited",
                           error_code="ModelArts.7521")
        register = await self.sibling(phase, "register_model")
        assert register is not None
        config = request.get("config") or [{
            "model_id": register.outputs["model_id"], "model_version": register.outputs["model_version"],
            "weight": 100, "specification": request.get("specification", "cpu"),
            "instance_count": request.get("instance_count", 1),
        }]
        body = {"config": config, "schedule": request.get("schedule")}
        if project.service_id and await self._service_exists(project, phase):
            await self._call("inference", "PUT", f"/v1/services/{project.service_id}", phase, json=body)
        else:
            name = request.get("service_name") or f"exeML-{project.name}"[:64]
            body |= {"service_name": name, "description": f"ExeML project {project.name}"}
            created = await self._call("inference", "POST", "/v1/services", phase, json=body)
            project.service_id = created.get("service_id") or created.get("id")
        phase.instance_type, phase.instance_id = "service", project.service_id
        phase.outputs = {"config": config}
        await self._set(phase, "running", project, execution)
        return phase

    # ---- events from the services --------------------------------------------------------------------
    async def on_instance_done(self, instance_type: str, instance_id: str, outputs: dict[str, Any]) -> None:
        phase = await self.phase_by_instance(instance_type, instance_id)
        if phase is not None and phase.status == "running":
            project, execution = await self._owners(phase)
            await self._complete(phase, project, execution, outputs)

    async def on_instance_failed(self, instance_type: str, instance_id: str, error: str, *, stopped: bool = False) -> None:
        phase = await self.phase_by_instance(instance_type, instance_id)
        if phase is not None and phase.status == "running":
            project, execution = await self._owners(phase)
            phase.error_msg = error
            await self._set(phase, "stopped" if stopped else "failed", project, execution)
            execution.status, execution.ended_at = ("stopped" if stopped else "abnormal"), utcnow()
            project.status = execution.status

    async def on_progress(self, job_id: str, progress: float, metric: dict[str, Any] | None) -> None:
        phase = await self.phase_by_instance("training_job", job_id)
        if phase is not None and phase.status == "running":
            phase.progress = progress
            if metric:
                phase.outputs = {**phase.outputs, "best_metric": metric}

    async def on_model_registered(self, training_job_id: str, outputs: dict[str, Any]) -> None:
        train = await self.phase_by_instance("training_job", training_job_id)
        if train is None:
            return
        register = await self.sibling(train, "register_model")
        if register is None or register.status == "executed":
            return
        project, execution = await self._owners(register)
        project.model_id = outputs.get("model_id") or project.model_id
        register.instance_type, register.instance_id = "model_version", outputs.get("version_id")
        if register.status == "running":
            await self._complete(register, project, execution, outputs)
        else:  # registered before the workflow saw the job finish: complete it when reached
            register.outputs = outputs
            register.status = "executed"
            register.started_at = register.ended_at = utcnow()

    # ---- the state machine ---------------------------------------------------------------------------
    async def _enter(self, phase: Phase, project: Project, execution: Execution) -> None:
        phase.started_at, phase.ended_at = utcnow(), None
        project.current_phase = phase.name
        project.status = "running"
        try:
            await ENTER[phase.name](self, phase, project, execution)
        except ExeMLError as exc:
            phase.error_msg = exc.error_msg
            await self._set(phase, "failed", project, execution)
            execution.status, execution.ended_at, project.status = "abnormal", utcnow(), "abnormal"

    async def _complete(self, phase: Phase, project: Project, execution: Execution, outputs: dict[str, Any]) -> None:
        phase.outputs = {**phase.outputs, **outputs}
        phase.progress = 100.0 if phase.progress is not None else None
        await self._set(phase, "executed", project, execution)
        phases = await self.phases(execution)
        later = [p for p in phases if p.position > phase.position]
        while later and later[0].status == "executed":  # completed early by its event
            later.pop(0)
        if later:
            await self._enter(later[0], project, execution)
            return
        execution.status, execution.ended_at, project.status = "completed", utcnow(), "completed"
        register = next((p for p in phases if p.name == "register_model"), None)
        await self.runtime.outbox.add(self.session, ExecutionCompleted(
            project_id=project.id, execution_id=execution.id, round=execution.round, status="completed",
            model_id=project.model_id, service_id=project.service_id,
            model_version=(register.outputs.get("model_version") if register else None),
        ), tenant_id=self.tenant_id, subject=project.id)

    async def _set(self, phase: Phase, status: str, project: Project, execution: Execution) -> None:
        previous, phase.status = phase.status, status
        if status in ("executed", "failed", "stopped"):
            phase.ended_at = utcnow()
        project.current_phase = phase.name
        await self.session.flush()
        await self.runtime.outbox.add(self.session, PhaseChanged(
            project_id=project.id, execution_id=execution.id, round=execution.round, phase=phase.name,
            title=phase.title, status=status, previous_status=previous, error_msg=phase.error_msg,
            instance={"type": phase.instance_type, "id": phase.instance_id} if phase.instance_id else None,
        ), tenant_id=self.tenant_id, subject=project.id)

    async def _active(self, project: Project) -> tuple[Execution, Phase]:
        execution = await self._execution(project)
        active = [p for p in await self.phases(execution) if p.status in ACTIVE]
        if not active:
            raise Conflict(f"round {execution.round} has no active phase ({execution.status})",
                           error_code="ModelArts.7521")
        return execution, active[0]

    async def _execution(self, project: Project) -> Execution:
        execution = await self.current_execution(project)
        if execution is None:
            raise NotFound(f"project {project.id} has no execution", error_code="ModelArts.7511")
        return execution

    async def _owners(self, phase: Phase) -> tuple[Project, Execution]:
        project = await self.project(phase.project_id)
        execution = await self.session.get(Execution, phase.execution_id)
        assert execution is not None
        return project, execution

    async def _call(self, peer: str, method: str, path: str, phase: Phase, **kwargs: Any) -> dict[str, Any]:
        response = await self.runtime.peers.request(peer, method, path, tenant_id=self.tenant_id, **kwargs)
        return response.json() if response.content else {}

    async def _service_exists(self, project: Project, phase: Phase) -> bool:
        try:
            await self._call("inference", "GET", f"/v1/services/{project.service_id}", phase)
        except NotFound:
            return False
        except ExeMLError as exc:
            if getattr(exc, "status_code", 0) == 404:
                return False
            raise
        return True

    # ---- entering each phase -------------------------------------------------------------------------
    async def _enter_label(self, phase: Phase, project: Project, execution: Execution) -> None:
        await self._set(phase, "awaiting_operation", project, execution)

    async def _enter_publish(self, phase: Phase, project: Project, execution: Execution) -> None:
        params = {**project.training_params, **execution.parameters}
        body = {"train_evaluate_sample_ratio": str(params.get("train_ratio", 0.8)),
                "description": f"ExeML project {project.name}, round {execution.round}"}
        created = await self._call("dataset", "POST", f"/v1/datasets/{project.dataset_id}/versions", phase, json=body)
        phase.instance_type, phase.instance_id = "dataset_version", created.get("version_id") or created.get("id")
        await self._set(phase, "running", project, execution)

    async def _enter_check(self, phase: Phase, project: Project, execution: Execution) -> None:
        publish = await self.sibling(phase, "publish_dataset")
        assert publish is not None and publish.instance_id
        phase.instance_type, phase.instance_id = "dataset_check", publish.instance_id
        await self._set(phase, "running", project, execution)
        await self._call("dataset", "POST",
                         f"/v1/datasets/{project.dataset_id}/versions/{publish.instance_id}/check", phase)

    async def _enter_train(self, phase: Phase, project: Project, execution: Execution) -> None:
        publish = await self.sibling(phase, "publish_dataset")
        assert publish is not None
        params = {**project.training_params, **execution.parameters}
        params.pop("train_ratio", None)
        if project.project_type == "predictive_analytics" and project.label_type:
            # The label column travels with the dataset version; its data type picks the problem.
            params.setdefault("problem", "regression" if project.label_type == "continuous" else "classification")
        body = {"name": f"{project.name}-r{execution.round}"[:64], "dataset_id": project.dataset_id,
                "dataset_version_id": publish.instance_id, "task_type": project.project_type,
                "project_id": project.id, "flavor": params.pop("flavor", project.flavor), "parameters": params}
        created = await self._call("trainer", "POST", "/v1/training-jobs", phase, json=body)
        phase.instance_type, phase.instance_id = "training_job", created.get("job_id") or created.get("id")
        phase.progress = 0.0
        await self._set(phase, "running", project, execution)

    async def _enter_register(self, phase: Phase, project: Project, execution: Execution) -> None:
        await self._set(phase, "running", project, execution)  # the registry registers on the job's event

    async def _enter_deploy(self, phase: Phase, project: Project, execution: Execution) -> None:
        register = await self.sibling(phase, "register_model")
        if register is not None:
            phase.outputs = {"suggested": {"model_id": register.outputs.get("model_id"),
                                           "model_version": register.outputs.get("model_version")}}
        await self._set(phase, "awaiting_input", project, execution)


ENTER = {
    "label_data": WorkflowEngine._enter_label,
    "publish_dataset": WorkflowEngine._enter_publish,
    "check_data": WorkflowEngine._enter_check,
    "train": WorkflowEngine._enter_train,
    "register_model": WorkflowEngine._enter_register,
    "deploy_service": WorkflowEngine._enter_deploy,
}


def invalid(field: str, rule: str, msg: str) -> InvalidInput:
    return InvalidInput(msg, details=[ErrorDetail(rule=rule, msg=msg, field=field)])
