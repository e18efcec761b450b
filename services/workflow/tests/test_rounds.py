"""A round's Train phase against a stand-in trainer, with the real dataset, labeling and registry services:
what the workflow asks the trainer (an incremental round names round 1's training job, resolved from the model
version the user chose), and what the Train phase reports (the job's own best metric)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI

from shared.events.training import JobProgressed, JobSucceeded
from shared.testing import datagen
from shared.testing.bus import publish_event
from shared.testing.model_packages import put_package, table_package
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"


class TrainerStandIn:
    """``POST /v1/training-jobs`` of the trainer: records each request and answers a new job id (the jobs run
    only as the events the test publishes)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.add_api_route("/v1/training-jobs", self.create, methods=["POST"], status_code=201)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(body)
        return {"id": uuid4().hex, "status": "pending"}


@pytest.fixture
async def rounds(platform_factory):
    platform = await platform_factory(["dataset", "labeling", "workflow", "registry"])
    trainer = TrainerStandIn()
    platform.runtimes["workflow"].peers.register_app("trainer", trainer.app)
    return platform, trainer


async def _phases(client, project_id: str) -> dict[str, dict[str, Any]]:
    project = (await client.get(f"/v1/projects/{project_id}")).json()
    return {p["name"]: p for p in project["execution"]["phases"]}


async def _wait(client, project_id: str, check, what: str) -> dict[str, dict[str, Any]]:
    async def reached():
        phases = await _phases(client, project_id)
        failed = [p for p in phases.values() if p["status"] == "failed"]
        assert not failed, f"{failed[0]['name']} failed: {failed[0]['error_msg']}"
        return phases if check(phases) else None

    return await wait_until(reached, timeout=60, what=what)


async def imported_churn_table(platform) -> str:
    """The id of a table dataset ("churn", 150 rows) of TENANT, its import completed."""
    store = platform.runtimes["dataset"].store
    folder = platform.tenant_uri("churn/input/", TENANT)
    for path, data in datagen.table_files(rows=150).items():
        await store.put(f"{folder}{path}", data)
    datasets = platform.client("dataset", TENANT)
    dataset = await datasets.post(
        "/v1/datasets",
        json={
            "dataset_name": "churn",
            "dataset_type": 400,
            "input_path": folder,
            "work_path": platform.tenant_uri("churn/output/", TENANT),
            "label_column": "label",
        },
    )
    assert dataset.status_code == 201, dataset.text
    dataset_id, task_id = dataset.json()["dataset_id"], dataset.json()["import_task_id"]

    async def imported() -> bool:
        task = (await datasets.get(f"/v1/datasets/{dataset_id}/import-tasks/{task_id}")).json()
        assert task["status"] != "FAILED", task
        return task["status"] == "COMPLETED"

    await wait_until(imported, timeout=60, what="the table's import")
    return dataset_id


async def churn_project(platform, **fields: Any) -> dict[str, Any]:
    """A table project of TENANT on a newly imported churn table; ``fields`` add to the creation body."""
    dataset_id = await imported_churn_table(platform)
    created = await platform.client("workflow", TENANT).post(
        "/v1/projects",
        json={
            "name": "churn",
            "project_type": "predictive_analytics",
            "dataset_id": dataset_id,
            "label_column": "label",
            "label_type": "discrete",
            **fields,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_incremental_round_starts_from_the_job_of_the_chosen_version(rounds) -> None:
    platform, trainer = rounds
    client = platform.client("workflow", TENANT)
    transport = platform.runtimes["workflow"].transport
    store = platform.runtimes["dataset"].store
    project = await churn_project(platform)
    pid = project["id"]

    # Round 1: publish and check run for real; the Train phase asks the (stand-in) trainer for a job.
    phases = await _wait(client, pid, lambda p: p["train"]["status"] == "running", "round 1 training")
    job1 = phases["train"]["instance"]["id"]
    assert trainer.requests[0]["parameters"].get("incremental_training_version") is None
    job = {
        "job_id": job1,
        "project_id": pid,
        "project_name": "churn",
        "dataset_id": project["dataset_id"],
        "dataset_version_id": phases["publish_dataset"]["instance"]["id"],
        "task_type": "predictive_analytics",
    }
    # A progress event reports the search's best so far; the job's final best metric is another.
    await publish_event(
        transport, JobProgressed(**job, progress=40.0, best_metric={"accuracy": 0.61}), tenant_id=TENANT
    )
    await _wait(
        client,
        pid,
        lambda p: p["train"]["outputs"].get("best_metric") == {"accuracy": 0.61},
        "the progress's best metric",
    )
    package = await put_package(
        store, store.uri(platform.bucket, f"training/{TENANT}/{job1}/package"), table_package(0)
    )
    await publish_event(
        transport,
        JobSucceeded(
            **job,
            package_uri=package,
            engine="table",
            labels=["no", "yes"],
            metrics={"accuracy": 0.93},
            best_metric={"accuracy": 0.93},
        ),
        tenant_id=TENANT,
    )
    phases = await _wait(
        client, pid, lambda p: p["deploy_service"]["status"] == "awaiting_input", "round 1 registered"
    )
    # One source: the Train phase reports the job's best metric, not the last progress event's.
    assert phases["train"]["outputs"]["best_metric"] == {"accuracy": 0.93}, phases["train"]["outputs"]
    assert phases["register_model"]["outputs"]["model_version"] == "0.0.1"

    # A version the project's AI application does not have: refused before a round starts.
    unknown = await client.post(
        f"/v1/projects/{pid}/executions", json={"training_params": {"incremental_training_version": "0.0.2"}}
    )
    assert unknown.status_code == 400 and unknown.json()["error_code"] == "ModelArts.7540", unknown.text
    assert "0.0.2" in unknown.json()["error_msg"]

    # Round 2, incremental from 0.0.1: the trainer is asked to start from round 1's job.
    again = await client.post(
        f"/v1/projects/{pid}/executions", json={"training_params": {"incremental_training_version": "0.0.1"}}
    )
    assert again.status_code == 201, again.text
    phases = await _wait(client, pid, lambda p: p["train"]["status"] == "running", "round 2 training")
    assert len(trainer.requests) == 2
    assert trainer.requests[1]["parameters"]["incremental_training_version"] == job1, trainer.requests[1]
    assert phases["train"]["outputs"]["incremental_from"] == {
        "model_version": "0.0.1",
        "training_job_id": job1,
    }
