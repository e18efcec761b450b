"""The SSE stream and signed webhooks, fed by real events through RabbitMQ."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI, Request, Response
from gateway.webhooks.delivery import SIGNATURE_HEADER, sign

from shared.events.dataset import DatasetCreated
from shared.testing.bus import publish_event
from shared.testing.platform import wait_until


async def _emit(gateway, tenant_id: str, name: str) -> None:
    """A dataset event on the bus, as the dataset service's relay would publish it."""
    event = DatasetCreated(
        dataset_id=name, name=name, dataset_type=0, dataset_type_name="image_classification"
    )
    await publish_event(gateway.platform.runtimes["gateway"].transport, event, tenant_id=tenant_id)


async def test_event_stream_delivers_the_tenants_events_only(gateway, serve) -> None:
    base = await serve(gateway.platform.apps["gateway"])
    other = await gateway.new_key(["viewer"], tenant_id="other")
    received: list[dict] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as client,
        client.stream(
            "GET", "/v1/events?types=dataset.*", headers=gateway.with_key(gateway.admin_key)
        ) as mine,
        client.stream("GET", "/v1/events", headers=gateway.with_key(other)) as theirs,
    ):
        assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/event-stream")
        await _emit(gateway, "other", "not-for-default")
        await _emit(gateway, "default", "for-default")
        lines = mine.aiter_lines()
        async for line in lines:
            if line.startswith("data: "):
                received.append(json.loads(line.removeprefix("data: ")))
                break
        async for line in theirs.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line.removeprefix("data: "))["tenantid"] == "other"
                break
    assert received[0]["type"] == "dataset.created.v1"
    assert received[0]["tenantid"] == "default" and received[0]["data"]["dataset_id"] == "for-default"


async def test_stream_needs_a_key(gateway) -> None:
    assert (await gateway.client.get("/v1/events")).status_code == 401


async def test_webhooks_are_signed_retried_and_filtered(hooks_gateway, serve) -> None:
    gateway = hooks_gateway
    calls: list[tuple[bytes, dict]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        calls.append((await request.body(), dict(request.headers)))
        return Response(status_code=500 if len(calls) == 1 else 204)  # the first attempt fails

    url = await serve(receiver) + "/hook"
    created = await gateway.client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": ["dataset.*"]},
        headers=gateway.with_key(gateway.admin_key),
    )
    assert created.status_code == 201, created.text
    secret, hook_id = created.json()["secret"], created.json()["id"]
    await _emit(gateway, "default", "hooked")
    await _emit(gateway, "someone-else", "not-hooked")

    async def delivered():
        listed = await gateway.client.get(
            f"/v1/webhooks/{hook_id}/deliveries", headers=gateway.with_key(gateway.admin_key)
        )
        items = listed.json()["items"]
        return items if items and items[0]["status"] == "delivered" else None

    items = await wait_until(delivered, timeout=30, what="webhook delivery after one retry")
    assert len(items) == 1 and items[0]["attempts"] == 2
    body, headers = calls[-1]
    assert headers[SIGNATURE_HEADER.lower()] == sign(secret, body)
    assert json.loads(body)["data"]["dataset_id"] == "hooked"
    assert len(calls) == 2


async def test_webhook_input_is_validated(gateway) -> None:
    response = await gateway.client.post(
        "/v1/webhooks",
        json={"url": "not a url", "event_types": []},
        headers=gateway.with_key(gateway.admin_key),
    )
    assert response.status_code == 400
    fields = {d.get("field") for d in response.json()["details"]}
    assert {"body.url", "body.event_types"} <= fields or {"url", "event_types"} <= fields


async def test_webhook_urls_longer_than_2048_characters_are_refused(gateway) -> None:
    url = "https://ci.example.com/" + "a" * 2048
    response = await gateway.client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": ["training.job.*"]},
        headers=gateway.with_key(gateway.admin_key),
    )
    assert response.status_code == 400, response.text
    assert any("url" in (d.get("field") or "") for d in response.json()["details"])
