"""The rules of projects: create (with or without a dataset), list, get, update, delete, and the user's actions
on a project's round (new round, next, retry, stop, deploy), which the workflow engine carries out."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Page
from shared.errors import ErrorDetail, ExeMLError, InvalidInput
from shared.service import ServiceRuntime
from workflow.config import Settings
from workflow.engine import WorkflowEngine
from workflow.errors import (
    DatasetVersionNameTaken,
    IncrementalVersionUnknown,
    ProjectExists,
    ProjectHasRunningService,
    ProjectLimitReached,
)
from workflow.flavors import FlavorCatalog, flavor_catalog, map_deploy_request, map_project_flavor
from workflow.models import Execution, Phase, Project
from workflow.phases import DATASET_TYPES, RoundStatus
from workflow.repository import ProjectRepository, RoundRepository
from workflow.schemas import (
    DeployRequest,
    ExecutionRead,
    PhaseRead,
    ProjectCreate,
    ProjectRead,
    ProjectType,
    ProjectUpdate,
)

__all__ = ["MAX_PROJECTS", "ProjectService"]

MAX_PROJECTS = 100  # seed: up to 100 ExeML projects per account
VERSION_NAME_FIELD = "training_params.dataset_version_name"


class ProjectService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.projects = ProjectRepository(session, tenant_id)
        self.rounds = RoundRepository(session, tenant_id)
        self.engine = WorkflowEngine(session, runtime, tenant_id)

    def flavors(self, project_type: ProjectType) -> FlavorCatalog:
        return flavor_catalog(project_type, self.runtime.settings.gpu_available)

    async def create(self, body: ProjectCreate) -> Project:
        self._validate(body)
        body = map_project_flavor(body, self.runtime.settings.gpu_available)
        body = self._own_paths(body)
        if await self.projects.count() >= MAX_PROJECTS:
            raise ProjectLimitReached(f"a tenant may have at most {MAX_PROJECTS} projects")
        await self._refuse_taken(body.name)
        dataset_id = await self._dataset_for(body)
        project = Project(
            tenant_id=self.tenant_id,
            name=body.name,
            project_type=body.project_type,
            description=body.description,
            dataset_id=dataset_id,
            input_path=body.input_path,
            output_path=body.output_path,
            flavor=body.flavor,
            training_params=body.training_params.model_dump(exclude_none=True),
            label_column=body.label_column,
            label_type=body.label_type,
            tags=body.tags,
            status=RoundStatus.INIT,
        )
        await self.projects.add(project)
        await self.engine.start_round(project)
        return project

    async def _refuse_taken(self, name: str) -> None:
        if await self.projects.name_taken(name):
            raise ProjectExists(
                f"a project named {name!r} already exists",
                details=[ErrorDetail(rule="unique_name", msg="project names are unique", field="name")],
            )

    def _validate(self, body: ProjectCreate) -> None:
        if body.training_params.incremental_training_version:
            raise IncrementalVersionUnknown.for_field(
                "training_params.incremental_training_version",
                "incremental_version_unknown",
                "a new project has no model version to train on: name one when starting a later round",
                value=body.training_params.incremental_training_version,
            )
        if body.dataset_id is not None and body.input_path is not None:
            raise InvalidInput.for_field(
                "dataset_id", "dataset_or_input_path", "give either dataset_id or input_path, not both"
            )
        if body.project_type == "predictive_analytics":
            if not body.label_column:
                raise InvalidInput.for_field(
                    "label_column", "required", "predictive analytics needs the label column"
                )
            if not body.label_type:
                raise InvalidInput.for_field(
                    "label_type", "required", "predictive analytics needs the label column's data type"
                )
        elif body.label_column or body.label_type:
            raise InvalidInput.for_field(
                "label_column", "tables_only", "label_column is for predictive analytics projects"
            )

    def _own_paths(self, body: ProjectCreate) -> ProjectCreate:
        """The paths in canonical form, refused (403, naming the field) outside the tenant's storage areas."""
        storage = self.runtime.tenant_storage(self.tenant_id)
        if body.dataset_id is None:  # a new dataset: its folders default to the tenant's own area
            home = storage.home()
            body = body.model_copy(
                update={
                    "input_path": body.input_path or f"{home.join(body.name, 'input')}/",
                    "output_path": body.output_path or f"{home.join(body.name, 'output')}/",
                }
            )
        paths = {
            field: str(storage.resolve(value, field=field))
            for field in ("input_path", "output_path")
            if (value := getattr(body, field)) is not None
        }
        return body.model_copy(update=paths)

    async def _dataset_for(self, body: ProjectCreate) -> str:
        code = DATASET_TYPES[body.project_type]
        if body.dataset_id is not None:
            dataset = (
                await self.runtime.peers.request(
                    "dataset", "GET", f"/v1/datasets/{body.dataset_id}", tenant_id=self.tenant_id
                )
            ).json()
            if int(dataset.get("dataset_type", -1)) != code:
                raise InvalidInput.for_field(
                    "dataset_id",
                    "dataset_type",
                    f"dataset {body.dataset_id} is of type {dataset.get('dataset_type')}, not {code}",
                )
            if code == 400 and dataset.get("label_column") not in (None, body.label_column):
                raise InvalidInput.for_field(
                    "label_column",
                    "dataset_label_column",
                    f"dataset {body.dataset_id} predicts column {dataset.get('label_column')!r}",
                )
            return body.dataset_id
        request: dict[str, Any] = {
            "dataset_name": f"{body.name}-dataset"[:100],
            "dataset_type": code,
            "input_path": body.input_path,
            "work_path": body.output_path,
            "description": f"Dataset of ExeML project {body.name}",
            "import_on_create": True,
        }
        if body.project_type == "predictive_analytics":
            request |= {
                "label_column": body.label_column,
                "with_column_header": body.with_column_header is not False,
            }
        created = (
            await self.runtime.peers.request(
                "dataset", "POST", "/v1/datasets", tenant_id=self.tenant_id, json=request
            )
        ).json()
        return created.get("dataset_id") or created["id"]

    async def get(self, project_id: str) -> Project:
        return await self.projects.get(project_id)

    async def search(self, **filters: Any) -> Page[Project]:
        return await self.projects.search(**filters)

    async def update(self, project_id: str, body: ProjectUpdate) -> Project:
        project = await self.projects.get(project_id)
        if body.name is not None and body.name != project.name:
            await self._refuse_taken(body.name)
            project.name = body.name
        if body.description is not None:
            project.description = body.description
        if body.tags is not None:
            project.tags = body.tags
        await self.session.flush()
        return project

    async def delete(self, project_id: str) -> None:
        project = await self.projects.get(project_id)
        if project.service_id and await self._service_running(project):
            raise ProjectHasRunningService(
                f"stop service {project.service_id} of project {project.name} before deleting it",
                details=[
                    ErrorDetail(
                        rule="stop_services_first",
                        msg="the project has a running service",
                        field="service_id",
                        value=project.service_id,
                    )
                ],
            )
        await self.projects.delete_with_rounds(project)

    async def executions(self, project_id: str) -> list[ExecutionRead]:
        """Every round of the project, newest first."""
        project = await self.projects.get(project_id)
        return [_read_execution(e, await self.rounds.phases(e)) for e in await self.rounds.all(project)]

    # ---- the user's actions on the current round (the engine carries them out) ----------------------------
    async def new_round(self, project_id: str, parameters: dict[str, Any]) -> Project:
        project = await self.projects.get(project_id)
        if name := parameters.get("dataset_version_name"):
            await self._refuse_taken_version(project, name)  # now, not when the round reaches Publish
        await self.engine.start_round(project, parameters)
        return project

    async def _refuse_taken_version(self, project: Project, name: str) -> None:
        """``DatasetVersionNameTaken`` (409) when the project's dataset already has a version named ``name``."""
        path, offset = f"/v1/datasets/{project.dataset_id}/versions", 0
        while True:
            page = await self.runtime.peers.get_json(
                "dataset", path, tenant_id=self.tenant_id, params={"offset": offset, "limit": 100}
            )
            if any(v.get("version_name") == name for v in page["items"]):
                raise DatasetVersionNameTaken.for_field(
                    VERSION_NAME_FIELD,
                    "version_name_unique",
                    f"dataset version {name} already exists: version names are unique within a dataset",
                    value=name,
                )
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    async def next(self, project_id: str) -> Project:
        project = await self.projects.get(project_id)
        await self.engine.next(project)
        return project

    async def retry(self, project_id: str) -> Project:
        project = await self.projects.get(project_id)
        await self.engine.retry(project)
        return project

    async def stop(self, project_id: str) -> Project:
        project = await self.projects.get(project_id)
        await self.engine.stop(project)
        return project

    async def deploy(self, project_id: str, body: DeployRequest) -> Project:
        project = await self.projects.get(project_id)
        body = map_deploy_request(body, project.project_type, self.runtime.settings.gpu_available)
        await self.engine.deploy(project, body.model_dump(exclude_none=True))
        return project

    async def _service_running(self, project: Project) -> bool:
        try:
            service = (
                await self.runtime.peers.request(
                    "inference", "GET", f"/v1/services/{project.service_id}", tenant_id=self.tenant_id
                )
            ).json()
        except ExeMLError as exc:
            if getattr(exc, "status_code", 0) == 404:
                return False
            raise
        return service.get("status") not in ("stopped", "failed", "deleting")

    async def read(self, project: Project, *, with_execution: bool = True) -> ProjectRead:
        execution, phases = await self.rounds.latest_with_phases(project) if with_execution else (None, [])
        return ProjectRead(
            id=project.id,
            name=project.name,
            project_type=project.project_type,
            description=project.description,
            dataset_id=project.dataset_id,
            output_path=project.output_path,
            flavor=project.flavor,
            training_params=project.training_params,
            label_column=project.label_column,
            label_type=project.label_type,
            tags=project.tags,
            status=project.status,
            current_phase=project.current_phase,
            rounds=project.rounds,
            model_id=project.model_id,
            service_id=project.service_id,
            created_at=project.created_at,
            updated_at=project.updated_at,
            execution=_read_execution(execution, phases) if execution else None,
        )


def _read_execution(execution: Execution, phases: list[Phase]) -> ExecutionRead:
    return ExecutionRead(
        id=execution.id,
        round=execution.round,
        status=execution.status,
        created_at=execution.created_at,
        ended_at=execution.ended_at,
        phases=[read_phase(p) for p in phases],
    )


def read_phase(phase: Phase) -> PhaseRead:
    duration = (
        (phase.ended_at - phase.started_at).total_seconds() if phase.started_at and phase.ended_at else None
    )
    return PhaseRead(
        name=phase.name,
        title=phase.title,
        status=phase.status,
        started_at=phase.started_at,
        ended_at=phase.ended_at,
        duration_seconds=duration,
        progress=phase.progress,
        instance={"type": phase.instance_type, "id": phase.instance_id} if phase.instance_id else None,
        outputs=phase.outputs or {},
        error_msg=phase.error_msg,
    )
