"""``/v1/training-jobs`` on PostgreSQL and RabbitMQ: validation, dispatch, stop and delete (no worker)."""

from __future__ import annotations

import asyncio

from trainer.models import TrainingJob

from shared.db import utcnow
from shared.messaging import QueueSpec, decode_envelope
from shared.testing.bus import outbox_envelopes


def _body(version: dict, project_id: str | None = "p1", **parameters) -> dict:
    return {
        "dataset_id": version["dataset_id"],
        "dataset_version_id": version["version_id"],
        "task_type": "predictive_analytics",
        "project_id": project_id,
        "parameters": parameters,
    }


def _fields(response) -> list[str]:
    return [d.get("field") for d in response.json()["details"]]


INVALID = [
    ({"max_training_duration": 5}, "parameters.max_training_duration"),
    ({"max_training_duration": 6001}, "parameters.max_training_duration"),
    ({"train_ratio": 1.2}, "parameters.train_ratio"),
    ({"train_ratio": 0.123456}, "parameters.train_ratio"),
    ({"train_ratio": "0.1234567"}, "parameters.train_ratio"),
    ({"training_preference": "fastest"}, "parameters.training_preference"),
    ({"max_inference_duration_ms": 0}, "parameters.max_inference_duration_ms"),
    ({"max_inference_duration_ms": 20001}, "parameters.max_inference_duration_ms"),
    ({"inference_hardware": "TPU"}, "parameters.inference_hardware"),
    ({"flavour": "cpu"}, "parameters.flavour"),
]


async def test_invalid_parameters_name_the_field(platform_factory, tables) -> None:
    platform = await platform_factory(["dataset", "trainer"])
    version = await tables.publish(platform)
    client = platform.client("trainer")
    for parameters, field in INVALID:
        response = await client.post("/v1/training-jobs", json=_body(version, **parameters))
        assert response.status_code == 400, (parameters, response.text)
        assert field in _fields(response), (parameters, response.json())
    # The edges of the rules are accepted.
    for parameters in (
        {"max_training_duration": 6},
        {"max_training_duration": 6000},
        {"train_ratio": 0.12345},
        {"train_ratio": "0.5"},
        {"training_preference": "accuracy_first"},
        {"max_inference_duration_ms": 20000, "inference_hardware": "GPU"},
    ):
        response = await client.post("/v1/training-jobs", json=_body(version, **parameters))
        assert response.status_code == 201, (parameters, response.text)
    # The guide's name for the expected inference hardware is accepted as what it means.
    guide = await client.post("/v1/training-jobs", json=_body(version, inference_hardware="NV_P4"))
    assert guide.status_code == 201, guide.text
    assert guide.json()["parameters"]["inference_hardware"] == "GPU"
    assert (await client.get("/v1/training-jobs")).json()["total"] == 7


async def test_budget_cap_bounds_every_job_budget(platform_factory, tables) -> None:
    platform = await platform_factory(
        ["dataset", "trainer"], overrides={"trainer": {"budget_cap_seconds": 400}}
    )
    version = await tables.publish(platform)
    client = platform.client("trainer")
    short = await client.post("/v1/training-jobs", json=_body(version, max_training_duration=6))
    long = await client.post("/v1/training-jobs", json=_body(version, max_training_duration=60))
    assert short.status_code == long.status_code == 201, (short.text, long.text)
    assert short.json()["budget_seconds"] == 360 and long.json()["budget_seconds"] == 400
    assert long.json()["parameters"]["max_training_duration"] == 60


async def test_create_dispatches_a_job_message_and_validates_the_version(platform_factory, tables) -> None:
    platform = await platform_factory(["dataset", "trainer"])
    trainer = platform.runtimes["trainer"]
    queue = platform.settings["trainer"].bus_queue("trainer.jobs.cpu")
    platform.cleanup_queues.append(queue)
    await trainer.transport.declare_queue(QueueSpec(queue, ("trainer.jobs.cpu",), 10))
    version = await tables.publish(platform)
    client = platform.client("trainer")

    response = await client.post(
        "/v1/training-jobs", json=_body(version, train_ratio=0.75, max_training_duration=6)
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "pending" and job["parameters"]["train_ratio"] == 0.75
    assert job["budget_seconds"] == 360 and job["parameters"]["training_preference"] == "balance"
    delivery = None
    for _ in range(100):
        if (delivery := await trainer.transport.get(queue)) is not None:
            break
        await asyncio.sleep(0.1)
    assert delivery is not None, "no job message on trainer.jobs.cpu"
    assert decode_envelope(delivery.body).data["job_id"] == job["id"]
    await delivery.ack()

    # Unknown (unpublished) version: 404; version of another dataset or task type: 400 naming the field.
    missing = await client.post("/v1/training-jobs", json={**_body(version), "dataset_version_id": "nope"})
    assert missing.status_code == 404
    other = await client.post("/v1/training-jobs", json={**_body(version), "dataset_id": "other"})
    assert other.status_code == 400 and "dataset_version_id" in _fields(other)
    wrong_task = await client.post(
        "/v1/training-jobs", json={**_body(version), "task_type": "image_classification"}
    )
    assert wrong_task.status_code == 400 and "task_type" in _fields(wrong_task)
    # Another tenant sees neither the version nor the job.
    stranger = platform.client("trainer", tenant_id="tenant-b")
    assert (await stranger.post("/v1/training-jobs", json=_body(version))).status_code == 404
    assert (await stranger.get(f"/v1/training-jobs/{job['id']}")).status_code == 404

    listing = (await client.get("/v1/training-jobs", params={"status": "pending", "limit": 1})).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == job["id"]
    assert (await client.get("/v1/training-jobs", params={"status": "running"})).json()["total"] == 0


async def test_stop_pending_job_and_delete(platform_factory, tables) -> None:
    platform = await platform_factory(["dataset", "trainer"])
    version = await tables.publish(platform)
    client = platform.client("trainer")
    job = (await client.post("/v1/training-jobs", json=_body(version))).json()
    stopped = await client.post(f"/v1/training-jobs/{job['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "terminated"
    assert (await client.post(f"/v1/training-jobs/{job['id']}/stop")).status_code == 409
    assert (await client.delete(f"/v1/training-jobs/{job['id']}")).status_code == 204
    assert (await client.get(f"/v1/training-jobs/{job['id']}")).status_code == 404


async def _completed_job(platform, version: dict, project_id: str, labels: list[str]) -> str:
    """A finished job row, as a worker leaves it (the incremental rules only read the row)."""
    trainer = platform.runtimes["trainer"]
    async with trainer.db.session() as session:
        job = TrainingJob(
            tenant_id="tenant-a",
            name="done",
            project_id=project_id,
            dataset_id=version["dataset_id"],
            dataset_version_id=version["version_id"],
            task_type="predictive_analytics",
            flavor="cpu",
            parameters={},
            budget_seconds=60,
            labels=labels,
            status="completed",
            finished_at=utcnow(),
            package_uri="s3://b/training/tenant-a/x/package",
            phase_timings=[],
            logs=[],
            attempts=[],
        )
        session.add(job)
        await session.flush()
        return job.id


async def test_incremental_version_must_be_same_project_and_label_set(platform_factory, tables) -> None:
    platform = await platform_factory(["dataset", "trainer"])
    version = await tables.publish(platform)
    client = platform.client("trainer")
    field = "parameters.incremental_training_version"
    other_project = await _completed_job(platform, version, "p2", ["no", "yes"])
    other_labels = await _completed_job(platform, version, "p1", ["a", "b", "c"])
    good = await _completed_job(platform, version, "p1", ["yes", "no"])
    for ref, rule in [
        (other_project, "incremental_other_project"),
        (other_labels, "incremental_label_set"),
        ("no-such-job", "incremental_unknown"),
    ]:
        response = await client.post(
            "/v1/training-jobs", json=_body(version, incremental_training_version=ref)
        )
        assert response.status_code == 400, response.text
        detail = response.json()["details"][0]
        assert (detail["field"], detail["rule"]) == (field, rule)
    accepted = await client.post("/v1/training-jobs", json=_body(version, incremental_training_version=good))
    assert accepted.status_code == 201, accepted.text


async def test_ids_task_types_and_pages_are_checked_before_the_database(platform_factory) -> None:
    """Control characters in ids, unknown task types and offsets beyond BIGINT are a 400, not a 500."""
    platform = await platform_factory(["trainer"], bus="memory")
    client = platform.client("trainer")
    for method, path in (
        ("GET", "/v1/training-jobs/job%00one"),
        ("POST", "/v1/training-jobs/job%0Aone/stop"),
        ("DELETE", "/v1/training-jobs/job%7Fone"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 400 and _fields(response) == ["job_id"], (path, response.text)
    assert (await client.get("/v1/training-jobs/nope")).status_code == 404
    for query, field in (
        ("offset=20225217254065361125376", "offset"),
        ("dataset_id=ds%00", "dataset_id"),
        ("task_type=speech", "task_type"),
    ):
        response = await client.get(f"/v1/training-jobs?{query}")
        assert response.status_code == 400 and _fields(response) == [field], (query, response.text)
    body = {"dataset_id": "ds1", "dataset_version_id": "v1", "task_type": "speech_to_text"}
    for change, field in (
        ({}, "task_type"),
        ({"task_type": "image_classification", "dataset_version_id": "v\x00"}, "dataset_version_id"),
    ):
        response = await client.post("/v1/training-jobs", json={**body, **change})
        assert response.status_code == 400 and _fields(response) == [field], (change, response.text)


async def test_the_project_name_travels_with_the_job_events(platform_factory, tables) -> None:
    platform = await platform_factory(["dataset", "trainer"], bus="memory")
    version = await tables.publish(platform)
    client = platform.client("trainer")
    response = await client.post("/v1/training-jobs", json={**_body(version), "project_name": "flowers"})
    assert response.status_code == 201 and response.json()["project_name"] == "flowers"
    created = await outbox_envelopes(platform.runtimes["trainer"], "training.job.created.v1")
    assert [e["data"]["project_name"] for e in created] == ["flowers"]
