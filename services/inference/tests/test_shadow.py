"""Shadow traffic: a candidate version gets a copy of a share of the requests; its answers are never
returned, but agreement with the live answer, errors and latencies show on the service."""

from __future__ import annotations

import asyncio

import pytest

from shared.testing.model_packages import table_package, upload_version
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"
# attr_1 + 0.5 * attr_2 and attr_1 + 1.5 * attr_2 (the two packages' rules) differ in sign on some rows.
ROWS = [
    {"attr_1": round(0.1 * i - 1.0, 2), "attr_2": round(0.7 - 0.07 * i, 2), "attr_3": 0.0} for i in range(20)
]


def body(i: int) -> dict:
    return {"meta": {"uuid": f"req-{i}"}, "data": {"req_data": [ROWS[i % len(ROWS)]]}}


async def answers(client, service_id: str, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        r = await client.post(f"/v1/infers/{service_id}", json=body(i))
        assert r.status_code == 200, r.text
        out.append(r.content)
    return out


async def wait_running(client, service_id: str, status: str = "running") -> dict:
    async def reached():
        got = (await client.get(f"/v1/services/{service_id}")).json()
        assert got["status"] != "failed", got
        return got if got["status"] == status and not got["pending_config"] else None

    return await wait_until(reached, timeout=90, what=f"service {service_id} {status}")


async def models_loaded(triton, n: int) -> None:
    """The live versions and the shadow on Triton, once the old generation is unloaded."""

    async def loaded():
        return len(await triton.loaded_models()) == n

    await wait_until(loaded, timeout=30, what=f"{n} models on Triton")


async def shadow_after(client, service_id: str, requests: int) -> dict:
    async def counted():
        shadow = (await client.get(f"/v1/services/{service_id}")).json()["shadow"]
        return shadow if shadow["requests"] + shadow["errors"] >= requests else None

    return await wait_until(counted, timeout=30, what=f"{requests} shadow requests counted")


async def test_shadow_traffic_never_changes_an_answer_and_records_agreement(serving_platform) -> None:
    platform = await serving_platform()
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    triton = platform.runtimes["inference"].state["triton"]
    v1 = await upload_version(registry, "churn", table_package(0))
    await upload_version(registry, "churn", table_package(1))  # 0.0.2: other weights, another rule
    model_id = v1["model_id"]
    live = [{"model_id": model_id, "model_version": "0.0.1", "weight": 100, "instance_count": 1}]
    created = await inference.post("/v1/services", json={"service_name": "churn-shadow", "config": live})
    assert created.status_code == 201, created.text
    service_id = created.json()["service_id"]
    assert (await wait_running(inference, service_id))["shadow"] is None
    n = len(ROWS)
    without_shadow = await answers(inference, service_id, n)

    # The same version as shadow, at 100 %: every answer unchanged, all N mirrored and agreeing.
    same = {"model_id": model_id, "model_version": "0.0.1", "share": 100}
    put = await inference.put(f"/v1/services/{service_id}", json={"shadow": same})
    assert put.status_code == 200, put.text
    await wait_running(inference, service_id)
    await models_loaded(triton, 2)
    assert await answers(inference, service_id, n) == without_shadow
    shadow = await shadow_after(inference, service_id, n)
    assert shadow["model_version"] == "0.0.1" and shadow["share"] == 100
    assert (shadow["requests"], shadow["agreements"], shadow["errors"]) == (n, n, 0)
    assert shadow["agreement_rate"] == 1.0
    assert shadow["live_latency_ms"]["p50"] > 0 and shadow["shadow_latency_ms"]["p95"] > 0
    assert [
        e["model_version"] for e in (await inference.get(f"/v1/services/{service_id}")).json()["config"]
    ] == ["0.0.1"]

    # Another version as shadow: answers still those of 0.0.1, and it agrees on fewer rows.
    other = {"model_id": model_id, "model_version": "0.0.2", "share": 100}
    assert (await inference.put(f"/v1/services/{service_id}", json={"shadow": other})).status_code == 200
    await wait_running(inference, service_id)
    await models_loaded(triton, 2)
    assert await answers(inference, service_id, n) == without_shadow
    shadow = await shadow_after(inference, service_id, n)
    assert shadow["model_version"] == "0.0.2" and shadow["requests"] == n and shadow["errors"] == 0
    assert 0 < shadow["agreements"] < n

    # A new share alone applies at once, without a reload; at 0 % nothing is mirrored.
    zero = await inference.put(f"/v1/services/{service_id}", json={"shadow": other | {"share": 0}})
    assert zero.status_code == 200 and zero.json()["pending_config"] is None, zero.text
    assert zero.json()["shadow"]["share"] == 0 and len(await triton.loaded_models()) == 2
    assert await answers(inference, service_id, n) == without_shadow
    await asyncio.sleep(0.5)
    assert (await inference.get(f"/v1/services/{service_id}")).json()["shadow"]["requests"] == n
    # A config update without "shadow" keeps it; an unknown shadow version is refused naming the field.
    kept = await inference.put(f"/v1/services/{service_id}", json={"config": live})
    assert kept.status_code == 200 and kept.json()["shadow"]["model_version"] == "0.0.2", kept.text
    unknown = await inference.put(
        f"/v1/services/{service_id}", json={"shadow": other | {"model_version": "0.0.9"}}
    )
    assert unknown.status_code == 400 and unknown.json()["details"][0]["field"] == "shadow.model_id"
    assert (await inference.put(f"/v1/services/{service_id}", json={"shadow": other})).status_code == 200

    # A shadow gone from Triton: live answers unchanged, the failures only counted.
    (shadow_model,) = [m for m in await triton.loaded_models() if m.endswith("-1")]
    await triton.unload(shadow_model)
    assert await answers(inference, service_id, n) == without_shadow
    shadow = await shadow_after(inference, service_id, 2 * n)
    assert shadow["errors"] == n and shadow["requests"] == n

    async def all_counted():
        got = (await inference.get(f"/v1/services/{service_id}")).json()
        return got if got["invocation_times"] == 5 * n else None

    assert (await wait_until(all_counted, timeout=10, what="calls counted"))["failed_times"] == 0
    # Stop and start: the shadow is loaded again with the service.
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "stopped"})).status_code == 200
    await wait_running(inference, service_id, "stopped")
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "running"})).status_code == 200
    assert (await wait_running(inference, service_id))["shadow"]["model_version"] == "0.0.2"
    assert await answers(inference, service_id, n) == without_shadow
    assert (await shadow_after(inference, service_id, 3 * n))["requests"] == 2 * n

    # Removing the shadow unloads it.
    assert (await inference.put(f"/v1/services/{service_id}", json={"shadow": None})).status_code == 200
    assert (await wait_running(inference, service_id))["shadow"] is None

    await models_loaded(triton, 1)
    assert await answers(inference, service_id, n) == without_shadow
