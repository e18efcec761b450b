"""Gateway fixtures: the gateway on PostgreSQL + RabbitMQ with an upstream that echoes the verified caller."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from gateway.keys import ensure_bootstrap_key

from shared.auth import PrincipalDep
from shared.testing.live import free_port
from shared.testing.platform import Platform

ADMIN_KEY = "exeml_test-bootstrap-admin-key-0123456789abcdef"


def echo_app(token_codec) -> FastAPI:
    """Stands in for a service: answers with the principal it verified from the internal token."""
    app = FastAPI()
    app.state.token_codec = token_codec

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def echo(path: str, principal: PrincipalDep, request: Request) -> dict:
        body = await request.body()
        return {
            "path": path,
            "tenant": principal.tenant_id,
            "roles": list(principal.roles),
            "subject": principal.subject,
            "bytes": len(body),
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
        }

    return app


@dataclass
class Gateway:
    platform: Platform
    client: httpx.AsyncClient
    admin_key: str = ADMIN_KEY

    def with_key(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def new_key(
        self, roles: list[str], tenant_id: str | None = None, admin_key: str = ADMIN_KEY
    ) -> str:
        body = {"name": f"k-{'-'.join(roles)}", "roles": roles} | (
            {"tenant_id": tenant_id} if tenant_id else {}
        )
        response = await self.client.post("/v1/api-keys", json=body, headers=self.with_key(admin_key))
        assert response.status_code == 201, response.text
        return response.json()["key"]


async def _gateway(platform_factory, **settings) -> Gateway:
    platform = await platform_factory(
        ["gateway"],
        overrides={
            "gateway": {
                "bootstrap_api_key": ADMIN_KEY,
                "max_request_bytes": 64 * 1024,
                "webhook_backoff_seconds": 0.2,
            }
            | settings
        },
    )
    app = platform.apps["gateway"]
    runtime = platform.runtimes["gateway"]
    echo = echo_app(runtime.token_codec)
    for name in ("dataset", "trainer", "inference", "workflow"):
        app.state.clients[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=echo), base_url="http://echo"
        )
    await ensure_bootstrap_key(runtime.db, runtime.settings)
    return Gateway(
        platform,
        platform._track(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")),
    )


@pytest.fixture
async def gateway(platform_factory) -> Gateway:
    """The gateway as deployed by default: webhooks reach public addresses only."""
    return await _gateway(platform_factory)


@pytest.fixture
async def hooks_gateway(platform_factory) -> Gateway:
    """The gateway with an operator allow-list for the tests' loopback webhook receivers."""
    return await _gateway(platform_factory, webhook_allowed_destinations=["127.0.0.0/8", "localhost"])


@pytest.fixture
async def serve():
    """Serve ASGI apps on real local ports (for streaming and webhook receivers)."""
    servers: list[tuple[uvicorn.Server, asyncio.Task]] = []

    async def start(app) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        servers.append((server, task))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await task
