"""The embedded hop: the gateway calls a service app in-process with the client's own body and answer."""

from __future__ import annotations

import httpx
import pytest
from gateway.proxy import ServiceClients

from shared.auth import INTERNAL_TOKEN_HEADER

from .conftest import echo_app


@pytest.fixture
async def in_process(gateway):
    app = gateway.platform.apps["gateway"]
    echo = echo_app(gateway.platform.runtimes["gateway"].token_codec)
    app.state.clients = ServiceClients.in_process({"dataset": echo, "inference": echo})
    return gateway


async def test_the_service_app_answers_in_process_with_the_callers_tenant_and_one_set_of_ids(
    in_process,
) -> None:
    viewer = await in_process.new_key(["viewer"], tenant_id="acme")
    response = await in_process.client.post(
        "/v1/infers/svc-1?x=1",
        files={"images": ("a.png", b"\x89PNG" + b"x" * 5000, "image/png")},
        headers=in_process.with_key(viewer) | {"X-Request-ID": "req-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant"] == "acme" and body["roles"] == ["viewer"] and body["path"] == "infers/svc-1"
    assert body["bytes"] == int(response.request.headers["content-length"])
    assert response.headers.get_list("X-Request-ID") == ["req-1"]


async def test_the_service_gets_the_clients_headers_less_its_credentials_with_the_token_and_one_set_of_ids(
    in_process,
) -> None:
    key = in_process.admin_key
    sent = {"X-Auth-Token": key, "X-Request-ID": "req-2", "X-Trace": "t", INTERNAL_TOKEN_HEADER: "forged"}
    response = await in_process.client.post(
        "/v1/datasets", content=b"abc", headers=in_process.with_key(key) | sent
    )
    assert response.status_code == 200, response.text
    seen: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        seen.setdefault(name, []).append(value)
    assert "authorization" not in seen and "x-auth-token" not in seen and "host" not in seen
    assert seen["x-trace"] == ["t"] and seen["content-length"] == ["3"]
    assert seen["x-request-id"] == ["req-2"] and seen["x-correlation-id"] == ["req-2"]
    token = seen[INTERNAL_TOKEN_HEADER.lower()]
    assert len(token) == 1 and token != ["forged"]  # the gateway's own, which the echo verified
    assert response.json()["roles"] == ["admin"]


async def test_bodies_without_a_length_are_read_within_the_limit_and_declared_ones_checked_first(
    in_process,
) -> None:
    key = in_process.with_key(in_process.admin_key)

    async def chunks(n: int):
        for _ in range(n):
            yield b"x" * 1024

    fits = await in_process.client.post("/v1/datasets", content=chunks(10), headers=key)
    assert fits.status_code == 200 and fits.json()["bytes"] == 10 * 1024
    too_big = await in_process.client.post("/v1/datasets", content=chunks(70), headers=key)
    assert too_big.status_code == 413
    declared = await in_process.client.post("/v1/datasets", content=b"x" * (64 * 1024 + 1), headers=key)
    assert declared.status_code == 413 and declared.json()["details"][0]["rule"] == "max_request_bytes"
    missing = await in_process.client.get("/v1/datasets")
    assert missing.status_code == 401


async def test_the_embedded_hop_calls_the_app_not_the_http_client_kept_for_tools(in_process) -> None:
    clients: ServiceClients = in_process.platform.apps["gateway"].state.clients

    def refuse(_request: httpx.Request) -> httpx.Response:
        raise AssertionError("the proxy went through the HTTP client")

    # The embedded ServiceClients hold both an HTTP client (aggregated OpenAPI, tools) and the app.
    dict.__setitem__(clients, "inference", httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    key = in_process.with_key(in_process.admin_key)
    response = await in_process.client.post("/v1/infers/svc-1", json={"text": "hi"}, headers=key)
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "infers/svc-1"
