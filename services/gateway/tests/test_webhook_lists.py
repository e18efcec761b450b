"""The webhook and delivery lists page with offset/limit and count everything in `total`."""

from __future__ import annotations

from fastapi import FastAPI, Response

from shared.events.dataset import DatasetCreated
from shared.testing.bus import publish_event
from shared.testing.platform import wait_until


async def test_webhooks_and_deliveries_page_and_count_all(hooks_gateway, serve) -> None:
    gateway = hooks_gateway
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook() -> Response:
        return Response(status_code=204)

    url = await serve(receiver) + "/hook"
    admin = gateway.with_key(gateway.admin_key)
    hooks = [
        (
            await gateway.client.post(
                "/v1/webhooks", json={"url": url, "event_types": ["dataset.*"]}, headers=admin
            )
        ).json()["id"]
        for _ in range(3)
    ]
    page = (await gateway.client.get("/v1/webhooks", params={"limit": 2}, headers=admin)).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = (await gateway.client.get("/v1/webhooks", params={"offset": 2}, headers=admin)).json()
    assert {h["id"] for h in page["items"] + rest["items"]} == set(hooks)

    transport = gateway.platform.runtimes["gateway"].transport
    for name in ("d1", "d2", "d3"):
        event = DatasetCreated(
            dataset_id=name, name=name, dataset_type=0, dataset_type_name="image_classification"
        )
        await publish_event(transport, event, tenant_id="default")

    async def three_delivered():
        listed = (await gateway.client.get(f"/v1/webhooks/{hooks[0]}/deliveries", headers=admin)).json()
        return listed if listed["total"] == 3 else None

    await wait_until(three_delivered, timeout=30, what="three deliveries")
    page = (
        await gateway.client.get(f"/v1/webhooks/{hooks[0]}/deliveries", params={"limit": 2}, headers=admin)
    ).json()
    assert page["total"] == 3 and len(page["items"]) == 2  # total is not the page's length
    too_many = await gateway.client.get("/v1/webhooks", params={"limit": 1001}, headers=admin)
    assert too_many.status_code == 400
