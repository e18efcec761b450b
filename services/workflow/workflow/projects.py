"""Projects: create (with or without a dataset), list/filter/sort, get, update, delete."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Conflict, ErrorDetail, ExeMLError, InvalidInput
from shared.service import ServiceRuntime
from workflow.engine import WorkflowEngine
from workflow.models import Execution, Phase, Project
from workflow.phases import DATASET_TYPES
from workflow.schemas import ExecutionRead, PhaseRead, ProjectCreate, ProjectRead, ProjectUpdate

__all__ = ["MAX_PROJECTS", "ProjectService"]

MAX_PROJECTS = 100  # seed: up to 100 ExeML projects per account
SORTABLE = {"name": Project.name, "created_at": Project.created_at, "updated_at": Project.updated_at,
            "status": Project.status, "project_type": Project.project_type}


def _invalid(field: str, rule: str, msg: str) -> InvalidInput:
    return InvalidInput(msg, details=[ErrorDetail(rule=rule, msg=msg, field=field)])


class ProjectService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime, tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.engine = WorkflowEngine(session, runtime, tenant_id)

    async def create(self, body: ProjectCreate) -> Project:
        self._validate(body)
        count = await self.session.scalar(sa.select(sa.func.count()).where(Project.tenant_id == self.tenant_id))
        if (count or 0) >= MAX_PROJECTS:
            raise Conflict(f"a tenant may have at most {MAX_PROJECTS} projects", error_code="ModelArts.7530")
        if await self.session.scalar(sa.select(Project.id).where(
                Project.tenant_id == self.tenant_id, Project.name == body.name)):
            raise Conflict(f"a project named {body.name!r} already exists", error_code="ModelArts.7531",
                           details=[ErrorDetail(rule="unique_name", msg="project names are unique", field="name")])
        dataset_id = await self._dataset_for(body)
        project = Project(
            tenant_id=self.tenant_id, name=body.name, project_type=body.project_type, description=body.description,
            dataset_id=dataset_id, input_path=body.input_path, output_path=body.output_path, flavor=body.flavor,
            training_params=body.training_params.model_dump(exclude_none=True), label_column=body.label_column,
            label_type=body.label_type, tags=body.tags, status="init",
        )
        self.session.add(project)
        await self.session.flush()
        await self.engine.start_round(project)
        return project

    def _validate(self, body: ProjectCreate) -> None:
        ratio = body.training_params.train_ratio
        if len(repr(ratio).split(".")[-1]) > 5 or not 0 < ratio <= 1:
            raise _invalid("training_params.train_ratio", "ratio_decimals", "train_ratio is in (0, 1] with 1–5 decimals")
        if (body.dataset_id is None) == (body.input_path is None):
            raise _invalid("dataset_id", "dataset_or_input_path", "give either dataset_id or input_path")
        if body.project_type == "predictive_analytics":
            if not body.label_column:
                raise _invalid("label_column", "required", "predictive analytics needs the label column")
            if not body.label_type:
                raise _invalid("label_type", "required", "predictive analytics needs the label column's data type")
        elif body.label_column or body.label_type:
            raise _invalid("label_column", "tables_only", "label_column is for predictive analytics projects")

    async def _dataset_for(self, body: ProjectCreate) -> str:
        code = DATASET_TYPES[body.project_type]
        if body.dataset_id is not None:
            dataset = (await self.runtime.peers.request(
                "dataset", "GET", f"/v1/datasets/{body.dataset_id}", tenant_id=self.tenant_id)).json()
            if int(dataset.get("dataset_type", -1)) != code:
                raise _invalid("dataset_id", "dataset_type",
                               f"dataset {body.dataset_id} is of type {dataset.get('dataset_type')}, not {code}")
            if code == 400 and dataset.get("label_column") not in (None, body.label_column):
                raise _invalid("label_column", "dataset_label_column",
                               f"dataset {body.dataset_id} predicts column {dataset.get('label_column')!r}")
            return body.dataset_id
        request: dict[str, Any] = {
            "dataset_name": f"{body.name}-dataset"[:100], "dataset_type": code, "input_path": body.input_path,
            "work_path": body.output_path, "description": f"Dataset of ExeML project {body.name}",
            "import_on_create": True,
        }
        if body.project_type == "predictive_analytics":
            request |= {"label_column": body.label_column,
                        "with_column_header": body.with_column_header is not False}
        created = (await self.runtime.peers.request(
            "dataset", "POST", "/v1/datasets", tenant_id=self.tenant_id, json=request)).json()
        return created.get("dataset_id") or created["id"]

    async def list(self, *, search: str | None, project_type: str | None, status: str | None, phase: str | None,
                   tag: str | None, sort_by: str, order: str, offset: int, limit: int) -> tuple[list[Project], int]:
        stmt = sa.select(Project).where(Project.tenant_id == self.tenant_id)
        if search:
            stmt = stmt.where(Project.name.ilike(f"%{search}%"))
        for column, value in ((Project.project_type, project_type), (Project.status, status),
                              (Project.current_phase, phase)):
            if value:
                stmt = stmt.where(column == value)
        rows = list(await self.session.scalars(stmt))
        if tag:  # tags are a JSON list: filtered here to stay portable between SQLite and PostgreSQL
            rows = [r for r in rows if tag in (r.tags or [])]
        key = SORTABLE[sort_by].key
        rows.sort(key=lambda r: getattr(r, key), reverse=order == "desc")
        return rows[offset: offset + limit], len(rows)

    async def update(self, project: Project, body: ProjectUpdate) -> Project:
        if body.description is not None:
            project.description = body.description
        if body.tags is not None:
            project.tags = body.tags
        await self.session.flush()
        return project

    async def delete(self, project: Project) -> None:
        if project.service_id and await self._service_running(project):
            raise Conflict(f"stop service {project.service_id} of project {project.name} before deleting it",
                           error_code="ModelArts.7532",
                           details=[ErrorDetail(rule="stop_services_first", msg="the project has a running service",
                                                field="service_id", value=project.service_id)])
        await self.session.execute(sa.delete(Phase).where(Phase.project_id == project.id))
        await self.session.execute(sa.delete(Execution).where(Execution.project_id == project.id))
        await self.session.delete(project)

    async def _service_running(self, project: Project) -> bool:
        try:
            service = (await self.runtime.peers.request(
                "inference", "GET", f"/v1/services/{project.service_id}", tenant_id=self.tenant_id)).json()
        except ExeMLError as exc:
            if getattr(exc, "status_code", 0) == 404:
                return False
            raise
        return service.get("status") not in ("stopped", "failed", "deleting")

    async def read(self, project: Project, *, with_execution: bool = True) -> ProjectRead:
        execution, phases = await self.engine.current_round(project) if with_execution else (None, [])
        return ProjectRead(
            id=project.id, name=project.name, project_type=project.project_type,  # type: ignore[arg-type]
            description=project.description, dataset_id=project.dataset_id, output_path=project.output_path,
            flavor=project.flavor, training_params=project.training_params, label_column=project.label_column,
            label_type=project.label_type, tags=project.tags, status=project.status,
            current_phase=project.current_phase, rounds=project.rounds, model_id=project.model_id,
            service_id=project.service_id, created_at=project.created_at, updated_at=project.updated_at,
            execution=_read_execution(execution, phases) if execution else None,
        )

    async def read_execution(self, execution: Execution) -> ExecutionRead:
        return _read_execution(execution, await self.engine.phases(execution))


def _read_execution(execution: Execution, phases: list[Phase]) -> ExecutionRead:
    return ExecutionRead(id=execution.id, round=execution.round, status=execution.status,
                         created_at=execution.created_at, ended_at=execution.ended_at,
                         phases=[read_phase(p) for p in phases])


def read_phase(phase: Phase) -> PhaseRead:
    duration = (phase.ended_at - phase.started_at).total_seconds() if phase.started_at and phase.ended_at else None
    return PhaseRead(
        name=phase.name, title=phase.title, status=phase.status, started_at=phase.started_at,
        ended_at=phase.ended_at, duration_seconds=duration, progress=phase.progress,
        instance={"type": phase.instance_type, "id": phase.instance_id} if phase.instance_id else None,
        outputs=phase.outputs or {}, error_msg=phase.error_msg,
    )
