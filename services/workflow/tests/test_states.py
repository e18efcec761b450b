"""The statuses the API documents are exactly the engine's (the schemas spell them as literals), and a read
shows them as one commit left them."""

from typing import get_args

import sqlalchemy as sa
from workflow import phases, schemas
from workflow.models import Execution, Phase, Project
from workflow.repository import ProjectRepository, RoundRepository


def test_api_literals_are_the_engine_states() -> None:
    assert set(get_args(schemas.PhaseStatus)) == set(phases.PhaseStatus)
    assert set(get_args(schemas.ProjectStatus)) == set(phases.RoundStatus)
    assert set(get_args(schemas.ExecutionStatus)) == set(phases.RoundStatus)
    assert set(get_args(schemas.PhaseName)) == set(phases.PhaseName)
    assert set(get_args(schemas.InstanceType)) == set(phases.InstanceType)


async def test_viewers_read_projects_but_change_nothing(platform_factory) -> None:
    platform = await platform_factory(["workflow"], bus="memory")
    viewer = platform.client("workflow", roles=("viewer",))
    assert (await viewer.get("/v1/projects")).status_code == 200
    refused = await viewer.post(
        "/v1/projects",
        json={
            "name": "p",
            "project_type": "image_classification",
            "dataset_id": "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e",
        },
    )
    assert refused.status_code == 403 and refused.json()["error_code"] == "ModelArts.0210"
    for path in ("/workflow/next", "/workflow/retry", "/workflow/stop", "/executions"):
        response = await viewer.post(f"/v1/projects/0123456789abcdef0123456789abcdef{path}", json={})
        assert response.status_code == 403, path


async def test_a_read_sees_the_project_and_its_round_from_one_commit(platform_factory) -> None:
    """The project read of ``GET /v1/projects/{id}`` loads the project, then its round: when the round completes
    in between (another session commits project and round together), the reader must not answer the round
    completed and the project still running (``exeml projects watch`` returned on the round and showed
    ``running``)."""
    platform = await platform_factory(["workflow"])
    db = platform.runtimes["workflow"].db
    tenant = "tenant-a"
    async with db.session() as session:
        project = Project(
            tenant_id=tenant,
            name="snap",
            project_type="predictive_analytics",
            dataset_id="d1",
            status="running",
        )
        session.add(project)
        await session.flush()
        execution = Execution(tenant_id=tenant, project_id=project.id, round=1, status="running")
        session.add(execution)
        await session.flush()
        session.add(
            Phase(
                tenant_id=tenant,
                execution_id=execution.id,
                project_id=project.id,
                name="deploy_service",
                title="Deploy Service",
                position=0,
                status="running",
            )
        )
    async with db.session() as reader:
        seen = await ProjectRepository(reader, tenant).get(project.id)
        assert seen.status == "running"
        async with db.session() as writer:  # the round ends while the reader is between its two reads
            await writer.execute(
                sa.update(Project).where(Project.id == project.id).values(status="completed")
            )
            await writer.execute(
                sa.update(Execution).where(Execution.id == execution.id).values(status="completed")
            )
            await writer.execute(
                sa.update(Phase).where(Phase.execution_id == execution.id).values(status="executed")
            )
        latest, phases = await RoundRepository(reader, tenant).latest_with_phases(seen)
        assert latest is not None
        assert (seen.status, latest.status, phases[0].status) == ("completed", "completed", "executed")
