"""Webhooks never reach internal addresses (SSRF), in any spelling, at registration and at delivery; an
operator's allow-list enables them; the request goes to the address that was checked."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from gateway.destinations import DestinationPolicy, DestinationRefused
from gateway.models import Webhook, WebhookDelivery
from gateway.webhooks.delivery import _attempt

from shared.events.dataset import DatasetCreated
from shared.testing.bus import publish_event
from shared.testing.platform import wait_until

# Every form of an internal destination, as a client would write it in the URL's host.
INTERNAL_HOSTS = [
    "127.0.0.1",
    "127.0.0.2",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "169.254.169.254",
    "[fe80::1]",
    "[::ffff:169.254.169.254]",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "[fc00::1]",
    "[fd12:3456::1]",
    "0.0.0.0",
    "0",
    "[::]",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "255.255.255.255",
    "localhost",
    "LOCALHOST.",
    "sub.localhost",
    "metadata.google.internal",
    "metadata",
    "printer.local",
    "triton",
    "gateway.svc.corp",
]


async def _emit(gateway, tenant_id: str, name: str) -> None:
    event = DatasetCreated(
        dataset_id=name, name=name, dataset_type=0, dataset_type_name="image_classification"
    )
    await publish_event(gateway.platform.runtimes["gateway"].transport, event, tenant_id=tenant_id)


async def _register(gateway, url: str) -> httpx.Response:
    return await gateway.client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": ["dataset.*"]},
        headers=gateway.with_key(gateway.admin_key),
    )


async def test_internal_destinations_are_refused_in_every_form(gateway) -> None:
    for host in INTERNAL_HOSTS:
        for scheme, port in (("http", ""), ("https", ":8443")):
            response = await _register(gateway, f"{scheme}://{host}{port}/v1/api-keys")
            assert response.status_code == 400, (host, response.status_code, response.text)
            detail = response.json()["details"][0]
            assert detail["field"] == "url" and detail["rule"] in (
                "webhook_internal_address",
                "webhook_internal_name",
            )
    listed = await gateway.client.get("/v1/webhooks", headers=gateway.with_key(gateway.admin_key))
    assert listed.json()["total"] == 0
    for url in (
        "https://93.184.215.14/hook",
        "https://[2606:4700::1111]/hook",
        "https://ci.example.com/hook",
    ):
        assert (await _register(gateway, url)).status_code == 201, (
            url
        )  # public (or not resolvable yet): accepted


async def test_allow_listed_receivers_get_deliveries_without_redirects_until_the_allow_list_changes(
    hooks_gateway, serve
) -> None:
    gateway = hooks_gateway
    calls: dict[str, list[dict]] = {"hook": [], "moved": [], "steal": []}
    receiver = FastAPI()

    @receiver.post("/{name}")
    async def hook(name: str, request: Request) -> Response:
        calls[name].append(dict(request.headers))
        if name == "moved":
            return Response(status_code=307, headers={"Location": "/steal"})
        return Response(status_code=204)

    base = await serve(receiver)
    port = base.rsplit(":", 1)[1]
    named = await _register(gateway, f"http://localhost:{port}/hook")
    moved = await _register(gateway, f"{base}/moved")
    assert named.status_code == 201 and moved.status_code == 201, (named.text, moved.text)
    await _emit(gateway, "default", "first")

    async def deliveries(hook_id: str) -> list[dict]:
        listed = await gateway.client.get(
            f"/v1/webhooks/{hook_id}/deliveries", headers=gateway.with_key(gateway.admin_key)
        )
        return listed.json()["items"]

    async def settled():
        a, b = await deliveries(named.json()["id"]), await deliveries(moved.json()["id"])
        return a and a[0]["status"] == "delivered" and b and b[0]["attempts"] >= 2 and (a, b)

    _delivered, redirected = await wait_until(settled, timeout=30, what="deliveries")
    assert calls["hook"][0]["host"] == f"localhost:{port}"  # the name kept, the checked address connected
    assert redirected[0]["response_status"] == 307 and redirected[0]["status"] != "delivered"
    assert calls["steal"] == []  # a redirect is never followed

    # The operator withdraws the allow-list: the next delivery is checked again and refused, nothing is sent.
    gateway.platform.runtimes["gateway"].settings.webhook_allowed_destinations = []
    received = len(calls["hook"])
    await _emit(gateway, "default", "second")

    async def refused():
        items = [d for d in await deliveries(named.json()["id"]) if d["status"] == "failed"]
        return items and items[0]

    failed = await wait_until(refused, timeout=30, what="refused delivery")
    assert failed["attempts"] == 1 and failed["last_error"].startswith("webhook_internal_address:"), failed
    assert len(calls["hook"]) == received


async def test_a_name_answering_with_an_internal_address_is_refused_whatever_else_it_answers() -> None:
    answers = {"rebind.example.com": ["93.184.215.14", "127.0.0.1"], "public.example.com": ["93.184.215.14"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    policy = DestinationPolicy(resolver=resolver)
    with pytest.raises(DestinationRefused) as refused:
        await policy.vet("https://rebind.example.com/hook")
    assert refused.value.rule == "webhook_internal_address"
    vetted = await policy.vet("https://public.example.com:8443/hook?x=1")
    assert str(vetted.url) == "https://93.184.215.14:8443/hook?x=1"
    assert (vetted.host_header, vetted.sni_hostname) == ("public.example.com:8443", "public.example.com")


async def test_a_delivery_connects_to_the_address_it_checked(serve) -> None:
    """A name no DNS knows, vetted to the loopback receiver (allow-listed): the request reaches that address
    and carries the name in its Host header, so a DNS answer changing after the check cannot move it."""
    seen: list[str] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(status_code=200)

    port = (await serve(receiver)).rsplit(":", 1)[1]

    async def resolver(host: str, _port: int) -> list[str]:
        return {"hooks.example.test": ["127.0.0.1"]}[host]

    policy = DestinationPolicy(["127.0.0.1/32"], resolver=resolver)
    webhook = Webhook(url=f"http://hooks.example.test:{port}/hook", event_types=["*"], secret="s")
    delivery = WebhookDelivery(id="d1", event_id="e", event_type="dataset.created.v1", body="{}", attempts=0)
    settings = type("S", (), {"webhook_max_attempts": 3, "webhook_backoff_seconds": 1.0})()
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        await _attempt(client, policy, delivery, webhook, settings)
    assert delivery.status == "delivered" and seen == [f"hooks.example.test:{port}"]
