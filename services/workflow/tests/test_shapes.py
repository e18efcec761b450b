"""One shape per concept (ADR 0022): the split ratio is `train_evaluate_sample_ratio` (a decimal string),
`schedule` a list of one, a specification a `modelarts.vm.*` name; the other documented forms are taken on
input, the answers and what the workflow sends on use the canonical shape."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from workflow.schemas import DeployRequest, RoundParams, TrainingParams

from services.workflow.tests.test_rounds import TENANT, TrainerStandIn, churn_project
from shared.events.training import JobSucceeded
from shared.testing.bus import publish_event
from shared.testing.model_packages import put_package, table_package
from shared.testing.platform import wait_until

STOP_2H = {"type": "stop", "time_unit": "HOURS", "duration": 2}


@pytest.mark.parametrize("given", [{"train_ratio": 0.9}, {"train_evaluate_sample_ratio": "0.9"}])
def test_the_ratio_is_read_under_either_name_and_written_under_the_datasets(given: dict) -> None:
    assert (
        TrainingParams.model_validate(given).model_dump(exclude_none=True)["train_evaluate_sample_ratio"]
        == "0.9"
    )
    assert RoundParams.model_validate(given).model_dump(exclude_none=True) == {
        "train_evaluate_sample_ratio": "0.9"
    }
    assert "train_ratio" not in TrainingParams.model_validate(given).model_dump()


def test_the_ratio_is_refused_twice_or_out_of_range() -> None:
    for bad in (
        {"train_ratio": 0.9, "train_evaluate_sample_ratio": "0.9"},
        {"train_ratio": 0},
        {"train_ratio": "1.5"},
    ):
        with pytest.raises(ValidationError):
            TrainingParams.model_validate(bad)
    assert TrainingParams.model_validate({"train_ratio": 1}).train_evaluate_sample_ratio == "1.0"


@pytest.mark.parametrize("schedule", [STOP_2H, [STOP_2H]])
def test_a_deploy_schedule_is_a_list_of_one_given_either_way(schedule: Any) -> None:
    body = DeployRequest.model_validate({"schedule": schedule})
    assert body.model_dump(exclude_none=True)["schedule"] == [STOP_2H]
    assert DeployRequest().specification == "modelarts.vm.cpu.2u"
    with pytest.raises(ValidationError):
        DeployRequest.model_validate({"schedule": [STOP_2H, STOP_2H]})


class InferenceStandIn:
    """``POST /v1/services`` of the inference service: records what the workflow sends."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.add_api_route("/v1/services", self.create, methods=["POST"], status_code=201)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(body)
        return {"service_id": "f" * 32}


@pytest.mark.infra
async def test_aliases_in_canonical_shapes_out_through_a_round(platform_factory) -> None:
    platform = await platform_factory(["dataset", "labeling", "workflow", "registry"])
    trainer, inference = TrainerStandIn(), InferenceStandIn()
    platform.runtimes["workflow"].peers.register_app("trainer", trainer.app)
    platform.runtimes["workflow"].peers.register_app("inference", inference.app)
    client, datasets = platform.client("workflow", TENANT), platform.client("dataset", TENANT)
    store = platform.runtimes["dataset"].store
    project = await churn_project(platform, training_params={"train_ratio": 0.9})  # the alias users send
    params = project["training_params"]
    assert params["train_evaluate_sample_ratio"] == "0.9" and "train_ratio" not in params, params

    async def phases_when(check) -> dict[str, Any]:
        async def reached():
            body = (await client.get(f"/v1/projects/{project['id']}")).json()
            phases = {p["name"]: p for p in body["execution"]["phases"]}
            failed = [p for p in phases.values() if p["status"] == "failed"]
            assert not failed, failed
            return phases if check(phases) else None

        return await wait_until(reached, timeout=90, what="the round")

    phases = await phases_when(lambda p: p["train"]["status"] == "running")
    version_id = phases["publish_dataset"]["instance"]["id"]
    version = (await datasets.get(f"/v1/datasets/{project['dataset_id']}/versions/{version_id}")).json()
    assert version["train_evaluate_sample_ratio"] == "0.9", version
    assert "train_ratio" not in trainer.requests[0]["parameters"]
    job_id = phases["train"]["instance"]["id"]
    package = await put_package(
        store, store.uri(platform.bucket, f"training/{TENANT}/{job_id}/package"), table_package(0)
    )
    event = JobSucceeded(
        job_id=job_id,
        project_id=project["id"],
        project_name="churn",
        dataset_id=project["dataset_id"],
        dataset_version_id=version_id,
        task_type="predictive_analytics",
        package_uri=package,
        engine="table",
        labels=["no", "yes"],
        metrics={"accuracy": 0.93},
        best_metric={"accuracy": 0.93},
    )
    await publish_event(platform.runtimes["workflow"].transport, event, tenant_id=TENANT)
    await phases_when(lambda p: p["deploy_service"]["status"] == "awaiting_input")

    # The project's documented object and short name: the service is asked in its own shape.
    deploy = await client.post(
        f"/v1/projects/{project['id']}/workflow/deploy", json={"specification": "cpu", "schedule": STOP_2H}
    )
    assert deploy.status_code == 200, deploy.text
    (sent,) = inference.requests
    assert sent["schedule"] == [STOP_2H], sent
    assert [c["specification"] for c in sent["config"]] == ["modelarts.vm.cpu.2u"], sent
