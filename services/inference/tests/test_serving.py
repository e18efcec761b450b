"""Real-time services served by a real Triton (child process), with the registry, PostgreSQL, RabbitMQ
and S3: deploy, predict, traffic split, updates without failed requests, nodes, stop/start, delete rules."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from shared.packages import load_predictor
from shared.testing.model_packages import TABLE_ROWS, service_uses, table_package, upload_version
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"
TABLE_BODY = {"meta": {"uuid": "req-1"}, "data": {"count": 2, "req_data": TABLE_ROWS}}


def reference_answer(files: dict[str, bytes]) -> dict:
    """What the package's own predictor answers, outside Triton."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            Path(tmp, name).write_bytes(data)
        return load_predictor(tmp).predict(json.dumps(TABLE_ROWS).encode())


async def wait_status(client, service_id: str, status: str, timeout: float = 60) -> dict:
    async def reached():
        body = (await client.get(f"/v1/services/{service_id}")).json()
        assert body.get("status") != "failed" or status == "failed", body
        return body if body.get("status") == status and not body.get("pending_config") else None

    return await wait_until(reached, timeout=timeout, what=f"service {service_id} {status}")


async def predict_many(client, service_id: str, n: int, concurrency: int = 8) -> tuple[Counter, list]:
    versions: Counter = Counter()
    failures: list = []
    queue = list(range(n))

    async def worker():
        while queue:
            queue.pop()
            r = await client.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
            if r.status_code == 200:
                versions[r.headers["x-exeml-model-version"]] += 1
            else:
                failures.append((r.status_code, r.text))

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return versions, failures


async def predict_until(
    client, service_id: str, done: asyncio.Event, concurrency: int = 8
) -> tuple[Counter, list]:
    """Predictions from ``concurrency`` callers at once until ``done`` is set (at least one each)."""
    versions: Counter = Counter()
    failures: list = []

    async def worker():
        while True:
            r = await client.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
            if r.status_code == 200:
                versions[r.headers["x-exeml-model-version"]] += 1
            else:
                failures.append((r.status_code, r.text))
            if done.is_set():
                return

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return versions, failures


async def test_deploy_predict_split_update_stop_start_delete(serving_platform) -> None:
    platform = await serving_platform()
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    triton = platform.runtimes["inference"].state["triton"]
    v1_files, v2_files = table_package(0), table_package(1)
    v1 = await upload_version(registry, "churn", v1_files)
    await upload_version(registry, "churn", v2_files)  # 0.0.2
    model_id = v1["model_id"]

    # Deploy 0.0.1 on 3 compute nodes.
    created = await inference.post(
        "/v1/services",
        json={
            "service_name": "churn-svc",
            "description": "table model",
            "config": [
                {
                    "model_id": model_id,
                    "model_version": "0.0.1",
                    "weight": 100,
                    "specification": "modelarts.vm.cpu.2u",
                    "instance_count": 3,
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    service_id = created.json()["service_id"]
    assert created.json()["status"] == "deploying"
    running = await wait_status(inference, service_id, "running")
    assert running["progress"] == 100 and running["due_time"] is not None  # auto stop on by default (1 h)
    assert running["schedule"] == [{"type": "stop", "time_unit": "HOURS", "duration": 1}]
    (model_name,) = await triton.loaded_models()
    assert (await triton.config(model_name))["instance_group"][0]["count"] == 3

    # Predictions through Triton equal the package's own predictor, in ModelArts' table format.
    answer = await inference.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"meta": {"uuid": "req-1"}, **reference_answer(v1_files)}
    assert set(answer.json()["data"]["resp_data"][0]) >= {"predict"}

    # Bad input: the predictor's rule comes back as a 400; wrong content type and no rows too.
    bad = await inference.post(
        f"/v1/infers/{service_id}", json={"data": {"req_data": [{"attr_1": 1, "colour": 2}]}}
    )
    assert bad.status_code == 400 and bad.json()["details"][0]["rule"] == "unknown_column"
    assert "colour" in bad.json()["details"][0]["msg"]
    not_json = await inference.post(
        f"/v1/infers/{service_id}", content=b"attr_1=1", headers={"content-type": "text/plain"}
    )
    assert not_json.status_code == 400 and not_json.json()["details"][0]["rule"] == "content_type"
    no_rows = await inference.post(f"/v1/infers/{service_id}", json={"data": {}})
    assert no_rows.status_code == 400 and no_rows.json()["details"][0]["rule"] == "req_data_missing"

    # The registry learnt from the events that 0.0.1 is in use.
    async def in_use():
        return await service_uses(platform.runtimes["registry"], service_id) is True

    await wait_until(in_use, timeout=45, what="the registry to learn that the service uses 0.0.1")
    assert (await registry.delete(f"/v1/models/{model_id}/versions/0.0.1")).status_code == 409
    assert (await registry.delete(f"/v1/models/{model_id}")).status_code == 409

    # Config update to two versions at 70/30 on one node each, under 8-way load from before the update until
    # the old model is unloaded (calls in flight then are retried on the new config): none fails.
    split = [
        {"model_id": model_id, "model_version": "0.0.1", "weight": 70, "instance_count": 1},
        {"model_id": model_id, "model_version": "0.0.2", "weight": 30, "instance_count": 1},
    ]
    switched = asyncio.Event()
    during = asyncio.create_task(predict_until(inference, service_id, switched, concurrency=8))
    updated = await inference.put(f"/v1/services/{service_id}", json={"config": split})
    assert updated.status_code == 200 and updated.json()["pending_config"] is not None
    await wait_status(inference, service_id, "running")

    async def old_model_unloaded():
        names = await triton.loaded_models()
        return names if len(names) == 2 and model_name not in names else None

    loaded = await wait_until(old_model_unloaded, timeout=45, what="the old model unloaded after the switch")
    switched.set()
    served, failures = await during
    assert failures == []
    assert set(served) == {"0.0.1", "0.0.2"}, served  # the load spanned the switch
    assert {(await triton.config(n))["instance_group"][0]["count"] for n in loaded} == {1}

    # The observed split over 2,000 predictions: 70/30 within ±5 points.
    started = time.perf_counter()
    versions, failures = await predict_many(inference, service_id, 2000)
    print(f"2000 predictions through the inference service and Triton: {time.perf_counter() - started:.1f}s")
    assert failures == []
    assert abs(versions["0.0.1"] / 2000 - 0.70) <= 0.05, versions
    v2_answer = await inference.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
    assert v2_answer.status_code == 200

    # Weights 0/100 apply without a reload and without failed requests under 8-way load.
    reweighted = asyncio.Event()
    during = asyncio.create_task(predict_until(inference, service_id, reweighted, concurrency=8))
    zero = [dict(split[0], weight=0), dict(split[1], weight=100)]
    assert (await inference.put(f"/v1/services/{service_id}", json={"config": zero})).status_code == 200
    await wait_status(inference, service_id, "running")
    reweighted.set()
    _, failures = await during
    assert failures == []
    versions, failures = await predict_many(inference, service_id, 50)
    assert failures == [] and versions == Counter({"0.0.2": 50})
    only_v2 = await inference.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
    assert only_v2.json()["data"] == reference_answer(v2_files)["data"]

    # Stop: models unloaded, predictions refused with a clear 4xx; start brings it back.
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "stopped"})).status_code == 200
    await wait_status(inference, service_id, "stopped")
    assert await triton.loaded_models() == []  # a stop unloads at once, before the status moves
    stopped = await inference.post(f"/v1/infers/{service_id}", json=TABLE_BODY)
    assert stopped.status_code == 400 and stopped.json()["error_code"] == "ModelArts.4203"
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "running"})).status_code == 200
    await wait_status(inference, service_id, "running")
    assert (await inference.post(f"/v1/infers/{service_id}", json=TABLE_BODY)).status_code == 200

    # History, events, counters.
    detail = (await inference.get(f"/v1/services/{service_id}")).json()
    assert detail["invocation_times"] >= 2300 and detail["failed_times"] >= 3
    infos = [
        e["event_info"] for e in (await inference.get(f"/v1/services/{service_id}/events")).json()["items"]
    ]
    assert "running" in infos and "stopped" in infos
    updates = (await inference.get(f"/v1/services/{service_id}/logs")).json()["items"]
    assert [u["event_info"] for u in updates][:2] == ["traffic weights updated", "config update finished"]

    # Delete the service: models unloaded, then the model can go.
    assert (await inference.delete(f"/v1/services/{service_id}")).status_code == 202

    async def gone():
        return (await inference.get(f"/v1/services/{service_id}")).status_code == 404

    await wait_until(gone, timeout=45, what="service deleted")
    assert await triton.loaded_models() == []

    async def deletable():
        return (await registry.delete(f"/v1/models/{model_id}")).status_code == 200

    await wait_until(deletable, timeout=45, what="model free once the service is gone")
