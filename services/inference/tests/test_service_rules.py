"""Rules of real-time services: validation of the deploy body, auto stop, tenant isolation, errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.db import utcnow
from shared.testing.bus import outbox_envelopes
from shared.testing.model_packages import TABLE_ROWS, service_uses, table_package, upload_version
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"


def body(model_id: str, **changes) -> dict:
    entry = {"model_id": model_id, "model_version": "0.0.1", "weight": 100, "instance_count": 1}
    return {"service_name": "svc", "config": [entry | changes.pop("entry", {})], **changes}


async def test_auto_stop_unloads_and_start_brings_it_back(serving_platform) -> None:
    platform = await serving_platform()
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    triton = platform.runtimes["inference"].state["triton"]
    model_id = (await upload_version(registry, "auto", table_package(0)))["model_id"]
    created = await inference.post(
        "/v1/services", json=body(model_id, schedule=[{"type": "stop", "duration": 1}])
    )
    service_id = created.json()["service_id"]

    async def status_is(status):
        got = (await inference.get(f"/v1/services/{service_id}")).json()
        return got if got["status"] == status else None

    running = await wait_until(lambda: status_is("running"), timeout=60, what="running")
    due = datetime.fromisoformat(running["due_time"])
    assert timedelta(minutes=59) < due - utcnow() <= timedelta(hours=1)  # the one-hour schedule
    assert await triton.loaded_models() != []
    await _reach_due_time(platform, service_id)
    stopped = await wait_until(lambda: status_is("stopped"), timeout=30, what="auto stop")
    assert stopped["due_time"] is None
    assert await triton.loaded_models() == []
    events = (await inference.get(f"/v1/services/{service_id}/events")).json()["items"]
    assert events[0]["event_info"] == "stopped by auto stop"
    refused = await inference.post(f"/v1/infers/{service_id}", json={"data": {"req_data": TABLE_ROWS}})
    assert refused.status_code == 400 and refused.json()["details"][0]["rule"] == "service_not_running"

    # The event reached the bus with reason auto_stop: the registry released the version.
    async def released():
        return await service_uses(platform.runtimes["registry"], service_id) is False

    await wait_until(released, timeout=45, what="registry to see the auto stop")
    stop_events = await _events(platform, "inference.service.stopped.v1")
    assert [e["data"]["reason"] for e in stop_events] == ["auto_stop"]

    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "running"})).status_code == 200
    await wait_until(lambda: status_is("running"), timeout=60, what="running again")
    answer = await inference.post(f"/v1/infers/{service_id}", json={"data": {"req_data": TABLE_ROWS}})
    assert answer.status_code == 200 and len(answer.json()["data"]["resp_data"]) == 2
    # Turning auto stop off keeps it running.
    off = await inference.put(f"/v1/services/{service_id}", json={"schedule": []})
    assert off.json()["due_time"] is None and off.json()["schedule"] == []
    await inference.put(f"/v1/services/{service_id}", json={"status": "stopped"})
    await wait_until(lambda: status_is("stopped"), timeout=30, what="stopped")


async def _reach_due_time(platform, service_id: str) -> None:
    """An hour passes: the service's due time is now (the clock is the database's, as the reconciler reads it)."""
    runtime = platform.runtimes["inference"]
    services = runtime.definition.metadata.tables["services"]
    async with runtime.db.session() as session:
        await session.execute(
            sa.update(services).where(services.c.id == service_id).values(due_time=utcnow())
        )


async def _events(platform, event_type: str) -> list[dict]:
    return await outbox_envelopes(platform.runtimes["inference"], event_type)


async def test_deploy_body_rules_and_tenant_isolation(serving_platform) -> None:
    platform = await serving_platform()
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    model_id = (await upload_version(registry, "rules", table_package(0)))["model_id"]

    async def refused(payload: dict) -> dict:
        response = await inference.post("/v1/services", json=payload)
        assert response.status_code == 400, response.text
        return response.json()

    assert "sum to 100" in (await refused(body(model_id, entry={"weight": 90})))["details"][0]["msg"]
    assert (await refused(body(model_id, entry={"instance_count": 6})))["details"][0][
        "field"
    ] == "config.0.instance_count"
    assert (await refused(body(model_id, entry={"instance_count": 0})))["details"][0][
        "field"
    ] == "config.0.instance_count"
    assert (await refused(body(model_id, entry={"weight": 101})))["details"][0]["field"] == "config.0.weight"
    spec = await refused(body(model_id, entry={"specification": "modelarts.vm.gpu.t4"}))
    assert spec["details"][0]["rule"] == "specification_unavailable"
    unknown = await refused(body(model_id, entry={"specification": "huge"}))
    assert unknown["details"][0]["rule"] == "specification_unknown"
    missing = await refused(body(model_id, entry={"model_version": "0.0.9"}))
    assert missing["details"][0]["rule"] == "model_version_unknown"
    assert (await refused(body(model_id, schedule=[{"type": "stop", "duration": 25}])))["details"][0]["field"]
    twice = body(model_id)
    twice["config"] = [twice["config"][0] | {"weight": 50}] * 2
    assert "only once" in (await refused(twice))["details"][0]["msg"]
    assert (await refused({**body(model_id), "service_name": "bad name"}))["details"][0][
        "field"
    ] == "service_name"
    # Another tenant sees neither the model nor the service.
    other = platform.client("inference", "tenant-b")
    assert (await other.post("/v1/services", json=body(model_id))).json()["details"][0][
        "rule"
    ] == "model_version_unknown"
    specs = (await inference.get("/v1/services/specifications")).json()
    assert {s["category"] for s in specs["items"] if s["is_open"]} == {"CPU"}

    # Isolation of a service and its predictions; a service is deleted whatever its state.
    created = await inference.post("/v1/services", json=body(model_id, schedule=[]))
    assert created.status_code == 201
    service_id = created.json()["service_id"]
    assert created.json()["schedule"] == []
    duplicate = await inference.post("/v1/services", json=body(model_id))
    assert duplicate.status_code == 409
    assert (await other.get(f"/v1/services/{service_id}")).status_code == 404
    assert (
        await other.post(f"/v1/infers/{service_id}", json={"data": {"req_data": TABLE_ROWS}})
    ).status_code == 404
    assert (await other.put(f"/v1/services/{service_id}", json={"status": "stopped"})).status_code == 404
    assert (await other.delete(f"/v1/services/{service_id}")).status_code == 404
    assert (await other.get("/v1/services")).json()["total"] == 0
    assert (
        await inference.post("/v1/infers/nope", json={"data": {"req_data": TABLE_ROWS}})
    ).status_code == 404
    listed = (await inference.get("/v1/services", params={"service_name": "sv"})).json()
    assert listed["total"] == 1
    assert (await inference.delete(f"/v1/services/{service_id}")).status_code == 202

    async def gone():
        return (await inference.get(f"/v1/services/{service_id}")).status_code == 404

    await wait_until(gone, timeout=60, what="service deleted")
    assert await platform.runtimes["inference"].state["triton"].loaded_models() == []


async def test_a_model_triton_cannot_load_fails_the_deployment(serving_platform) -> None:
    platform = await serving_platform()
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    broken = table_package(0) | {"model.lgb.txt": b"not a LightGBM model"}  # a valid manifest, a bad artifact
    model_id = (await upload_version(registry, "broken", broken))["model_id"]
    service_id = (await inference.post("/v1/services", json=body(model_id))).json()["service_id"]

    async def failed():
        got = (await inference.get(f"/v1/services/{service_id}")).json()
        return got if got["status"] == "failed" else None

    got = await wait_until(failed, timeout=60, what="deployment failed")
    assert "could not load" in got["error_msg"] and got["config"][0]["model_version"] == "0.0.1"
    assert await platform.runtimes["inference"].state["triton"].loaded_models() == []
    events = (await inference.get(f"/v1/services/{service_id}/events")).json()["items"]
    assert events[0]["event_type"] == "abnormal" and events[0]["event_info"].startswith("deployment failed")
    assert [e["data"]["service_id"] for e in await _events(platform, "inference.service.failed.v1")] == [
        service_id
    ]
    refused = await inference.post(f"/v1/infers/{service_id}", json={"data": {"req_data": TABLE_ROWS}})
    assert refused.status_code == 400 and refused.json()["error_code"] == "ModelArts.4203"
    # Starting again retries the same config (and fails the same way, visibly).
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "running"})).json()[
        "status"
    ] == "deploying"
    await wait_until(failed, timeout=60, what="deployment failed again")


async def test_ids_pages_and_empty_updates_are_refused_before_the_database(serving_platform) -> None:
    """Control characters in service ids and offsets beyond BIGINT are a 400, not a 500; so is ``PUT {}``."""
    platform = await serving_platform()
    inference = platform.client("inference", TENANT)

    def fields(response) -> list[str]:
        return [d.get("field") for d in response.json()["details"]]

    for method, path in (
        ("GET", "/v1/services/s%00x"),
        ("DELETE", "/v1/services/s%09x"),
        ("GET", "/v1/services/s%1Bx/events"),
        ("POST", "/v1/infers/s%00x"),
    ):
        response = await inference.request(method, path)
        assert response.status_code == 400 and fields(response) == ["service_id"], (path, response.text)
    for query, field in (
        ("offset=20225217254065361125376", "offset"),
        ("service_name=a%00", "service_name"),
        ("status=sleeping", "status"),
    ):
        response = await inference.get(f"/v1/services?{query}")
        assert response.status_code == 400 and fields(response) == [field], (query, response.text)
    logs = await inference.get("/v1/services/nope/logs?offset=20225217254065361125376")
    assert logs.status_code == 400 and fields(logs) == ["offset"]
    empty = await inference.put("/v1/services/nope", json={})
    assert empty.status_code == 400 and "nothing to update" in empty.text
    bad_model = await inference.post("/v1/services", json=body("m\x00"))
    assert bad_model.status_code == 400 and fields(bad_model) == ["config.0.model_id"]
