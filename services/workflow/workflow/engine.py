"""The saga of one ExeML round: each phase calls a service's API and is completed by that service's event.

Every transition is written in the caller's transaction (a request or a consumed event, claimed in the
inbox), together with a ``workflow.phase.changed.v1`` outbox row, so a restart of any service in the middle
of a round loses nothing: the state is in the database and the events that move it are redelivered until
handled. A phase whose event arrives before the phase is entered (the registry may register a model before
the workflow has seen the training job succeed) is completed early and skipped when it is reached.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utcnow
from shared.errors import ExeMLError, NotFound
from shared.events.workflow import ExecutionCompleted, PhaseChanged, PhaseStarted
from shared.logging import get_logger
from shared.service import ServiceRuntime
from workflow.aliases import RATIO_ALIAS, RATIO_FIELD, split_ratio
from workflow.errors import (
    IncrementalVersionUnknown,
    NoExecution,
    NothingToRetry,
    PhaseNotAwaiting,
    RoundStillRunning,
)
from workflow.models import Execution, Phase, Project
from workflow.phases import ACTIVE, ENDED, InstanceType, PhaseName, PhaseStatus, RoundStatus, phase_plan
from workflow.repository import ProjectRepository, RoundRepository

__all__ = ["WorkflowEngine"]

log = get_logger(__name__)

INCREMENTAL_FIELD = "training_params.incremental_training_version"


class WorkflowEngine:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime, tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.projects = ProjectRepository(session, tenant_id)
        self.rounds = RoundRepository(session, tenant_id)

    # ---- rounds --------------------------------------------------------------------------------------
    async def start_round(self, project: Project, parameters: dict[str, Any] | None = None) -> Execution:
        if version := (parameters or {}).get("incremental_training_version"):
            await self.incremental_source(project, version)  # refused now, not when the round reaches Train
        current = await self.rounds.latest(project)
        if current is not None and current.status == RoundStatus.RUNNING:
            busy = [p for p in await self.rounds.phases(current) if p.status == PhaseStatus.RUNNING]
            if busy:
                raise RoundStillRunning(
                    f"round {current.round} is still running phase {busy[0].name}; stop it first"
                )
            current.status, current.ended_at = RoundStatus.STOPPED, utcnow()
        project.rounds += 1
        execution, phases = await self.rounds.add(project, parameters or {}, phase_plan(project.project_type))
        await self._enter(phases[0], project, execution)
        return execution

    async def incremental_source(self, project: Project, version: str) -> dict[str, str]:
        """The training job (and so the package) of ``version`` of the project's AI application: what an
        incremental round starts from. ``IncrementalVersionUnknown`` (400) when the project has no such
        published version."""

        def unknown(why: str) -> IncrementalVersionUnknown:
            return IncrementalVersionUnknown.for_field(
                INCREMENTAL_FIELD,
                "incremental_version_unknown",
                f"model version {version} of project {project.name} cannot be trained on: {why}",
                value=version,
            )

        if project.model_id is None:
            raise unknown("the project has registered no model version yet")
        try:
            found = await self.runtime.peers.get_json(
                "registry", f"/v1/models/{project.model_id}/versions/{version}", tenant_id=self.tenant_id
            )
        except ExeMLError as exc:
            if getattr(exc, "status_code", 0) == 404:
                raise unknown("the project's AI application has no such version") from exc
            raise
        if found.get("model_status") != "published":
            raise unknown(f"the version is {found.get('model_status')}, not published")
        if not found.get("training_job_id"):
            raise unknown("the version was uploaded, not trained by a round of the project")
        return {"model_version": version, "training_job_id": found["training_job_id"]}

    # ---- user actions --------------------------------------------------------------------------------
    async def next(self, project: Project) -> Phase:
        """'Next' after labeling (the Label Data phase awaits this operation)."""
        execution, phase = await self._active(project)
        if phase.name != PhaseName.LABEL_DATA or phase.status != PhaseStatus.AWAITING_OPERATION:
            raise PhaseNotAwaiting(f"phase {phase.name} is {phase.status}: nothing awaits 'next'")
        await self._complete(phase, project, execution, {})
        return phase

    async def retry(self, project: Project) -> Phase:
        execution = await self._execution(project)
        failed = [
            p
            for p in await self.rounds.phases(execution)
            if p.status in (PhaseStatus.FAILED, PhaseStatus.STOPPED)
        ]
        if not failed:
            raise NothingToRetry("no failed or stopped phase to retry")
        phase = failed[0]
        execution.status, execution.ended_at = RoundStatus.RUNNING, None
        phase.error_msg, phase.instance_id, phase.instance_type, phase.progress = None, None, None, None
        await self._enter(phase, project, execution)
        return phase

    async def stop(self, project: Project) -> Phase:
        execution, phase = await self._active(project)
        if phase.name == PhaseName.TRAIN and phase.instance_id and phase.status == PhaseStatus.RUNNING:
            await self._call("trainer", "POST", f"/v1/training-jobs/{phase.instance_id}/stop", phase)
        await self._set(phase, PhaseStatus.STOPPED, project, execution)
        execution.status, execution.ended_at = RoundStatus.STOPPED, utcnow()
        project.status = RoundStatus.STOPPED
        return phase

    async def deploy(self, project: Project, request: dict[str, Any]) -> Phase:
        """Deploy Service (awaiting input): create the service, or add this round's version to it."""
        execution, phase = await self._active(project)
        if phase.name != PhaseName.DEPLOY_SERVICE or phase.status != PhaseStatus.AWAITING_INPUT:
            raise PhaseNotAwaiting(f"phase {phase.name} is {phase.status}: deployment is not awaited")
        register = await self.rounds.sibling(phase, PhaseName.REGISTER_MODEL)
        assert register is not None
        config = request.get("config") or [
            {
                "model_id": register.outputs["model_id"],
                "model_version": register.outputs["model_version"],
                "weight": 100,
                "specification": request.get("specification", "modelarts.vm.cpu.2u"),
                "instance_count": request.get("instance_count", 1),
            }
        ]
        # auto_stop false: an empty schedule, which the inference service reads as "never stop".
        body = {
            "config": config,
            "schedule": request.get("schedule") if request.get("auto_stop", True) else [],
        }
        if project.service_id and await self._service_exists(project, phase):
            await self._call("inference", "PUT", f"/v1/services/{project.service_id}", phase, json=body)
        else:
            name = request.get("service_name") or f"exeML-{project.name}"[:64]
            body |= {"service_name": name, "description": f"ExeML project {project.name}"}
            created = await self._call("inference", "POST", "/v1/services", phase, json=body)
            project.service_id = created.get("service_id") or created.get("id")
        phase.instance_type, phase.instance_id = InstanceType.SERVICE, project.service_id
        phase.outputs = {"config": config}
        await self._set(phase, PhaseStatus.RUNNING, project, execution)
        return phase

    # ---- events from the services --------------------------------------------------------------------
    async def on_instance_done(
        self, instance_type: InstanceType, instance_id: str, outputs: dict[str, Any]
    ) -> None:
        phase = await self.rounds.phase_by_instance(instance_type, instance_id)
        if phase is not None and phase.status == PhaseStatus.RUNNING:
            project, execution = await self._owners(phase)
            await self._complete(phase, project, execution, outputs)

    async def on_instance_failed(
        self, instance_type: InstanceType, instance_id: str, error: str, *, stopped: bool = False
    ) -> None:
        phase = await self.rounds.phase_by_instance(instance_type, instance_id)
        if phase is not None and phase.status == PhaseStatus.RUNNING:
            project, execution = await self._owners(phase)
            phase.error_msg = error
            await self._set(phase, PhaseStatus.STOPPED if stopped else PhaseStatus.FAILED, project, execution)
            execution.status, execution.ended_at = (
                (RoundStatus.STOPPED if stopped else RoundStatus.ABNORMAL),
                utcnow(),
            )
            project.status = execution.status

    async def on_progress(self, job_id: str, progress: float, metric: dict[str, Any] | None) -> None:
        phase = await self.rounds.phase_by_instance(InstanceType.TRAINING_JOB, job_id)
        if phase is not None and phase.status == PhaseStatus.RUNNING:
            phase.progress = progress
            if metric:
                phase.outputs = {**phase.outputs, "best_metric": metric}

    async def on_model_registered(self, training_job_id: str, outputs: dict[str, Any]) -> None:
        train = await self.rounds.phase_by_instance(InstanceType.TRAINING_JOB, training_job_id)
        if train is None:
            return
        register = await self.rounds.sibling(train, PhaseName.REGISTER_MODEL)
        if register is None or register.status == PhaseStatus.EXECUTED:
            return
        project, execution = await self._owners(register)
        project.model_id = outputs.get("model_id") or project.model_id
        register.instance_type, register.instance_id = InstanceType.MODEL_VERSION, outputs.get("version_id")
        if register.status == PhaseStatus.RUNNING:
            await self._complete(register, project, execution, outputs)
        else:  # registered before the workflow saw the job finish: complete it when reached
            register.outputs = outputs
            register.status = PhaseStatus.EXECUTED
            register.started_at = register.ended_at = utcnow()

    # ---- the state machine ---------------------------------------------------------------------------
    async def _enter(self, phase: Phase, project: Project, execution: Execution) -> None:
        phase.started_at, phase.ended_at = utcnow(), None
        project.current_phase = phase.name
        project.status = RoundStatus.RUNNING
        try:
            await ENTER[PhaseName(phase.name)](self, phase, project, execution)
        except ExeMLError as exc:
            await self._fail(phase, project, execution, exc.error_msg)

    async def _fail(self, phase: Phase, project: Project, execution: Execution, error: str) -> None:
        phase.error_msg = error
        await self._set(phase, PhaseStatus.FAILED, project, execution)
        execution.status, execution.ended_at, project.status = (
            RoundStatus.ABNORMAL,
            utcnow(),
            RoundStatus.ABNORMAL,
        )

    async def _complete(
        self, phase: Phase, project: Project, execution: Execution, outputs: dict[str, Any]
    ) -> None:
        phase.outputs = {**phase.outputs, **outputs}
        phase.progress = 100.0 if phase.progress is not None else None
        await self._set(phase, PhaseStatus.EXECUTED, project, execution)
        phases = await self.rounds.phases(execution)
        later = [p for p in phases if p.position > phase.position]
        while later and later[0].status == PhaseStatus.EXECUTED:  # completed early by its event
            later.pop(0)
        if later:
            await self._enter(later[0], project, execution)
            return
        execution.status, execution.ended_at, project.status = (
            RoundStatus.COMPLETED,
            utcnow(),
            RoundStatus.COMPLETED,
        )
        register = next((p for p in phases if p.name == PhaseName.REGISTER_MODEL), None)
        await self.runtime.outbox.add(
            self.session,
            ExecutionCompleted(
                project_id=project.id,
                execution_id=execution.id,
                round=execution.round,
                status=RoundStatus.COMPLETED,
                model_id=project.model_id,
                service_id=project.service_id,
                model_version=(register.outputs.get("model_version") if register else None),
            ),
            tenant_id=self.tenant_id,
            subject=project.id,
        )

    async def _set(self, phase: Phase, status: PhaseStatus, project: Project, execution: Execution) -> None:
        previous, phase.status = phase.status, status
        if status in ENDED:
            phase.ended_at = utcnow()
        project.current_phase = phase.name
        await self.session.flush()
        await self.runtime.outbox.add(
            self.session,
            PhaseChanged(
                project_id=project.id,
                execution_id=execution.id,
                round=execution.round,
                phase=phase.name,
                title=phase.title,
                status=status,
                previous_status=previous,
                error_msg=phase.error_msg,
                instance={"type": phase.instance_type, "id": phase.instance_id}
                if phase.instance_id
                else None,
            ),
            tenant_id=self.tenant_id,
            subject=project.id,
        )

    async def _active(self, project: Project) -> tuple[Execution, Phase]:
        execution = await self._execution(project)
        active = [p for p in await self.rounds.phases(execution) if p.status in ACTIVE]
        if not active:
            raise PhaseNotAwaiting(f"round {execution.round} has no active phase ({execution.status})")
        return execution, active[0]

    async def _execution(self, project: Project) -> Execution:
        execution = await self.rounds.latest(project)
        if execution is None:
            raise NoExecution(f"project {project.id} has no execution")
        return execution

    async def _owners(self, phase: Phase) -> tuple[Project, Execution]:
        return await self.projects.get(phase.project_id), await self.rounds.execution(phase.execution_id)

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
        await self._set(phase, PhaseStatus.AWAITING_OPERATION, project, execution)

    async def _enter_publish(self, phase: Phase, project: Project, execution: Execution) -> None:
        # The dataset's publish request reads every label before it answers (seconds on a large dataset): the
        # worker makes it on PhaseStarted, so the action that entered the phase answers at once.
        phase.instance_type, phase.instance_id, phase.progress = None, None, 0.0
        await self._set(phase, PhaseStatus.RUNNING, project, execution)
        await self.runtime.outbox.add(
            self.session,
            PhaseStarted(
                project_id=project.id, execution_id=execution.id, phase_id=phase.id, phase=phase.name
            ),
            tenant_id=self.tenant_id,
            subject=project.id,
        )

    async def on_phase_started(self, phase_id: str) -> None:
        """The worker's half of entering a phase: the other service's call, recorded on the phase or failing it."""
        phase = await self.rounds.phase(phase_id)
        if phase is None or phase.status != PhaseStatus.RUNNING or phase.instance_id:
            return  # stopped, failed or already started meanwhile
        project, execution = await self._owners(phase)
        try:
            await self._publish(phase, project, execution)
        except ExeMLError as exc:
            await self._fail(phase, project, execution, exc.error_msg)

    async def _publish(self, phase: Phase, project: Project, execution: Execution) -> None:
        params = {**project.training_params, **execution.parameters}
        body = {
            # Projects made before the canonical name (ADR 0022) keep the ratio as train_ratio, a number.
            "train_evaluate_sample_ratio": split_ratio(
                params.get(RATIO_FIELD, params.get(RATIO_ALIAS, "0.8"))
            ),
            "description": f"ExeML project {project.name}, round {execution.round}",
        }
        if name := params.get("dataset_version_name"):  # else the dataset numbers it (V001, V002…)
            body["version_name"] = name
        created = await self._call(
            "dataset", "POST", f"/v1/datasets/{project.dataset_id}/versions", phase, json=body
        )
        phase.instance_type, phase.instance_id = (
            InstanceType.DATASET_VERSION,
            created.get("version_id") or created.get("id"),
        )
        await self._set(phase, PhaseStatus.RUNNING, project, execution)

    async def _enter_check(self, phase: Phase, project: Project, execution: Execution) -> None:
        publish = await self.rounds.sibling(phase, PhaseName.PUBLISH_DATASET)
        assert publish is not None and publish.instance_id
        phase.instance_type, phase.instance_id = InstanceType.DATASET_CHECK, publish.instance_id
        await self._set(phase, PhaseStatus.RUNNING, project, execution)
        await self._call(
            "dataset",
            "POST",
            f"/v1/datasets/{project.dataset_id}/versions/{publish.instance_id}/check",
            phase,
        )

    async def _enter_train(self, phase: Phase, project: Project, execution: Execution) -> None:
        publish = await self.rounds.sibling(phase, PhaseName.PUBLISH_DATASET)
        assert publish is not None
        params = {**project.training_params, **execution.parameters}
        params.pop(RATIO_FIELD, None)  # the Publish phase's parameters, not the trainer's
        params.pop(RATIO_ALIAS, None)
        params.pop("dataset_version_name", None)
        if version := params.pop("incremental_training_version", None):
            # The user names a model version; the trainer starts from the training job that made it.
            source = await self.incremental_source(project, version)
            params["incremental_training_version"] = source["training_job_id"]
            phase.outputs = {**phase.outputs, "incremental_from": source}
        if project.project_type == "predictive_analytics" and project.label_type:
            # The label column travels with the dataset version; its data type picks the problem.
            params.setdefault(
                "problem", "regression" if project.label_type == "continuous" else "classification"
            )
        body = {
            "name": f"{project.name}-r{execution.round}"[:64],
            "dataset_id": project.dataset_id,
            "dataset_version_id": publish.instance_id,
            "task_type": project.project_type,
            "project_id": project.id,
            "project_name": project.name,
            "flavor": params.pop("flavor", project.flavor),
            "parameters": params,
        }
        created = await self._call("trainer", "POST", "/v1/training-jobs", phase, json=body)
        phase.instance_type, phase.instance_id = (
            InstanceType.TRAINING_JOB,
            created.get("job_id") or created.get("id"),
        )
        phase.progress = 0.0
        await self._set(phase, PhaseStatus.RUNNING, project, execution)

    async def _enter_register(self, phase: Phase, project: Project, execution: Execution) -> None:
        await self._set(
            phase, PhaseStatus.RUNNING, project, execution
        )  # the registry registers on the job's event

    async def _enter_deploy(self, phase: Phase, project: Project, execution: Execution) -> None:
        register = await self.rounds.sibling(phase, PhaseName.REGISTER_MODEL)
        if register is not None:
            phase.outputs = {
                "suggested": {
                    "model_id": register.outputs.get("model_id"),
                    "model_version": register.outputs.get("model_version"),
                }
            }
        await self._set(phase, PhaseStatus.AWAITING_INPUT, project, execution)


ENTER = {
    PhaseName.LABEL_DATA: WorkflowEngine._enter_label,
    PhaseName.PUBLISH_DATASET: WorkflowEngine._enter_publish,
    PhaseName.CHECK_DATA: WorkflowEngine._enter_check,
    PhaseName.TRAIN: WorkflowEngine._enter_train,
    PhaseName.REGISTER_MODEL: WorkflowEngine._enter_register,
    PhaseName.DEPLOY_SERVICE: WorkflowEngine._enter_deploy,
}
