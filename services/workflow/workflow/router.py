"""The projects API (`/v1/projects`): ExeML projects and the actions of their workflow."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from shared.auth import WriterDep
from shared.service import tenant_service
from shared.service.params import Offset, limit_query
from workflow.flavors import FlavorCatalog
from workflow.schemas import (
    EXECUTIONS_EXAMPLE,
    PLAIN_TEXT_PATTERN,
    DeployRequest,
    ExecutionRead,
    PhaseName,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectStatus,
    ProjectType,
    ProjectUpdate,
    RoundCreate,
)
from workflow.service import ProjectService

__all__ = ["router"]

router = APIRouter(prefix="/v1/projects", tags=["projects"])


ServiceDep = Annotated[ProjectService, Depends(tenant_service(ProjectService))]


@router.post("", status_code=201, response_model=ProjectRead, summary="Create an ExeML project")
async def create_project(body: ProjectCreate, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Create a project of one of the five types on an existing dataset of that type (`dataset_id`) or on a
    new dataset imported from `input_path`. Its first round starts at once: Label Data awaits labeling (then
    **next**); predictive analytics starts with Publish Dataset Version.

    The example creates an image classification project. A table project also names the column to predict and its
    type: `{"name": "churn", "project_type": "predictive_analytics", "input_path": "s3://exeml/tenants/default/churn/input/",
    "label_column": "churned", "label_type": "discrete", "with_column_header": true}` (`label_column` and
    `label_type` are refused for the other four types)."""
    return await service.read(await service.create(body))


@router.get("", response_model=ProjectList, summary="List projects")
async def list_projects(
    service: ServiceDep,
    search: Annotated[
        str | None,
        Query(max_length=64, pattern=PLAIN_TEXT_PATTERN, description="Part of the name", examples=["flow"]),
    ] = None,
    project_type: ProjectType | None = None,
    status: ProjectStatus | None = None,
    phase: Annotated[PhaseName | None, Query(description="Current phase, e.g. train")] = None,
    tag: Annotated[
        str | None, Query(max_length=64, description="Projects carrying this tag", examples=["demo"])
    ] = None,
    sort_by: Literal["name", "created_at", "updated_at", "status", "project_type"] = "created_at",
    order: Literal["asc", "desc"] = "desc",
    offset: Offset = 0,
    limit: Annotated[int, limit_query(20, 100)] = 20,
) -> ProjectList:
    """The tenant's projects (without their current round: get one project for its phases), filtered by part of
    the name, type, status, current phase or tag, sorted by name, creation or update time, status or type;
    `total` counts all matches."""
    page = await service.search(
        search=search,
        project_type=project_type,
        status=status,
        phase=phase,
        tag=tag,
        sort_by=sort_by,
        order=order,
        offset=offset,
        limit=limit,
    )
    return ProjectList(
        items=[await service.read(r, with_execution=False) for r in page.items], total=page.total
    )


@router.get(
    "/flavors",
    response_model=FlavorCatalog,
    summary="Training flavors and deployment specifications of a type",
)
async def list_flavors(service: ServiceDep, project_type: ProjectType) -> FlavorCatalog:
    """The training flavors (`flavor` of a new project), deployment specifications (`specification` of
    **deploy**) and expected inference hardware (`training_params.inference_hardware`) a project type may name:
    the guide's names (`Free (GPU)`, `Compute-intensive 3 instance (CPU)`, `NV_P4`) and ours (`cpu`, `gpu`,
    `modelarts.vm.cpu.2u`), each with what it runs as here (`maps_to`) and whether this installation has the
    hardware (`available`; GPU ones only where it has GPUs). Tables (predictive analytics) list CPU ones only."""
    return service.flavors(project_type)


@router.get("/{project_id}", response_model=ProjectRead, summary="Get a project and its current round")
async def get_project(project_id: str, service: ServiceDep) -> ProjectRead:
    """The project with its current execution: every phase's status, times, duration, progress and the
    instance it created (dataset version, training job, model version, service)."""
    return await service.read(await service.get(project_id))


@router.put(
    "/{project_id}", response_model=ProjectRead, summary="Rename a project or change its description or tags"
)
async def update_project(
    project_id: str, body: ProjectUpdate, service: ServiceDep, _: WriterDep
) -> ProjectRead:
    """Change the name (the rules of creation: pattern, unique per tenant, 409 when taken), the description
    (≤ 500 characters) or the tags. The other fields are fixed at creation: naming one is a 400. The project's
    dataset, AI application and service keep their names."""
    return await service.read(await service.update(project_id, body))


@router.delete("/{project_id}", status_code=204, summary="Delete a project")
async def delete_project(project_id: str, service: ServiceDep, _: WriterDep) -> None:
    """Delete the project and its rounds (its dataset, models and services stay). Refused with 409 while its
    real-time service runs: stop the service first."""
    await service.delete(project_id)


@router.get(
    "/{project_id}/executions",
    response_model=list[ExecutionRead],
    summary="All rounds of a project",
    responses={
        200: {
            "description": "The rounds, newest first",
            "content": {"application/json": {"example": EXECUTIONS_EXAMPLE}},
        }
    },
)
async def list_executions(project_id: str, service: ServiceDep) -> list[ExecutionRead]:
    """Every round (execution) of the project, newest first, as a plain list. Each has its status (`running`,
    `completed`, `stopped`, `abnormal`) and its phases in order, each with its status (`init`,
    `awaiting_operation`, `awaiting_input`, `running`, `executed`, `failed`, `stopped`), start and end time,
    duration, training progress, the instance it created (`{"type": "training_job", "id": …}`), its outputs and
    the error of a failed phase."""
    return await service.executions(project_id)


@router.post(
    "/{project_id}/executions", response_model=ProjectRead, status_code=201, summary="Start a new round"
)
async def new_round(project_id: str, body: RoundCreate, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Start the next training round (its model becomes version 0.0.N+1), optionally with other training
    parameters; refused while a phase of the current round is running. `incremental_training_version` names a
    model version the project registered (`0.0.1`): the round trains on from that version's model; a version the
    project does not have is a 400 (ModelArts.7540). `dataset_version_name` names the dataset version the round's
    Publish phase creates (the guide's "You can change it to the version number that you want"; default: the
    dataset's next V001, V002…): 1–32 letters, digits, `-`, `_` (else a 400), and one the dataset already has is
    a 409 (ModelArts.4371)."""
    return await service.read(
        await service.new_round(project_id, body.training_params.model_dump(exclude_none=True))
    )


@router.post("/{project_id}/workflow/next", response_model=ProjectRead, summary="Next: labeling is done")
async def next_phase(project_id: str, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Continue after Label Data: publish a dataset version, check it, train, register."""
    return await service.read(await service.next(project_id))


@router.post("/{project_id}/workflow/retry", response_model=ProjectRead, summary="Retry the failed phase")
async def retry_phase(project_id: str, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Run the failed (or stopped) phase of the current round again."""
    return await service.read(await service.retry(project_id))


@router.post("/{project_id}/workflow/stop", response_model=ProjectRead, summary="Stop the current phase")
async def stop_phase(project_id: str, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Stop the running phase (training stops and keeps its best model so far)."""
    return await service.read(await service.stop(project_id))


@router.post("/{project_id}/workflow/deploy", response_model=ProjectRead, summary="Deploy Service")
async def deploy(project_id: str, body: DeployRequest, service: ServiceDep, _: WriterDep) -> ProjectRead:
    """Answer the Deploy Service phase: this round's version is pre-selected; give `config` to split
    traffic between versions (e.g. 80/20), the specification, nodes (1–5) and the auto-stop schedule, or
    `auto_stop: false` for a service that runs until it is stopped."""
    return await service.read(await service.deploy(project_id, body))
