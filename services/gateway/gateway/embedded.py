"""The embedded mode (``make run``): every service in one process.

SQLite files and a local object store under ``EXEML_DATA_DIR`` (``.exeml``), one in-memory broker, each
service's outbox relay and consumers as background tasks, and the gateway reaching the service apps
in-process through ``httpx.ASGITransport``. Listens on ``EXEML_HOST``:``EXEML_PORT`` (127.0.0.1:8000).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.config import Settings as GatewaySettings
from gateway.keys import ensure_bootstrap_key
from gateway.proxy import SERVICES, ServiceClients
from shared.messaging import InMemoryBroker
from shared.service import ServiceDefinition, ServiceRuntime, build_runtime
from shared.storage import LocalObjectStore, local_object_router

__all__ = ["build_embedded_app", "main"]


def _definition(name: str) -> ServiceDefinition:
    return importlib.import_module(f"{name}.definition").SERVICE


def _service_app(name: str, runtime: ServiceRuntime) -> FastAPI:
    return importlib.import_module(f"{name}.app").create_app(runtime=runtime)


def build_embedded_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app with every service wired in-process; its lifespan runs them all."""
    broker = InMemoryBroker()
    gateway_settings = settings or GatewaySettings()
    runtimes = {name: build_runtime(_definition(name), broker=broker) for name in SERVICES}
    gateway_runtime = build_runtime(_definition("gateway"), gateway_settings, broker=broker)
    all_runtimes = [gateway_runtime, *runtimes.values()]
    apps = {name: _service_app(name, rt) for name, rt in runtimes.items()}
    for runtime in runtimes.values():
        for peer, peer_app in apps.items():
            runtime.peers.register_app(peer, peer_app)
    clients = ServiceClients(
        {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            for name, app in apps.items()
        }
    )
    from gateway.app import create_app

    app = create_app(gateway_settings, gateway_runtime, clients)
    if isinstance(gateway_runtime.store, LocalObjectStore):
        app.include_router(local_object_router(gateway_runtime.store))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for runtime in all_runtimes:
            await runtime.migrate()
            await runtime.start(background=True)
        await ensure_bootstrap_key(gateway_runtime.db, gateway_settings)
        try:
            yield
        finally:
            await clients.aclose()
            for runtime in reversed(all_runtimes):
                await runtime.stop()

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    settings = GatewaySettings()
    app = build_embedded_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
