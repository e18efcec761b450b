"""The statuses the API documents are exactly the engine's (the schemas spell them as literals)."""

from typing import get_args

from workflow import phases, schemas


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
