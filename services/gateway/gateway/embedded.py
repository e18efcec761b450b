"""The embedded mode (``make run``): every service in one process.

SQLite files and a local object store under ``EXEML_DATA_DIR`` (``.exeml``), one in-memory broker, each
service's outbox relay and consumers as background tasks, and the gateway reaching the service apps
in-process through ``httpx.ASGITransport``. Listens on ``EXEML_HOST``:``EXEML_PORT`` (127.0.0.1:8000).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from gateway.config import Settings as GatewaySettings
from gateway.console import console_router, default_console_dir
from gateway.keys import ensure_bootstrap_key
from gateway.proxy import SERVICES, ServiceClients
from shared.logging import get_logger
from shared.messaging import InMemoryBroker
from shared.service import build_runtime, load_definition, load_service_app
from shared.storage import LocalObjectStore, local_object_router

__all__ = ["build_embedded_app", "main"]

log = get_logger(__name__)


def _serve_console(app: FastAPI, settings: GatewaySettings) -> None:
    """The web console at / (last: its catch-all must come after every API route)."""
    root = settings.console_dir or default_console_dir()
    if (root / "index.html").is_file():
        app.include_router(console_router(root))
    else:
        log.warning(
            "web console not built: only the API is served",
            console_dir=str(root),
            hint="cd frontend && npm ci && npm run build (make run does it)",
        )


def build_embedded_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app with every service wired in-process; its lifespan runs them all."""
    broker = InMemoryBroker()
    gateway_settings = settings or GatewaySettings()
    runtimes = {name: build_runtime(load_definition(name), broker=broker) for name in SERVICES}
    gateway_runtime = build_runtime(load_definition("gateway"), gateway_settings, broker=broker)
    all_runtimes = [gateway_runtime, *runtimes.values()]
    apps = {name: load_service_app(name, rt) for name, rt in runtimes.items()}
    for runtime in runtimes.values():
        for peer, peer_app in apps.items():
            runtime.peers.register_app(peer, peer_app)
    clients = ServiceClients.in_process(apps)
    from gateway.app import create_app

    app = create_app(gateway_settings, gateway_runtime, clients)
    app.state.runtimes = {"gateway": gateway_runtime, **runtimes}  # for operators' tools and tests
    if isinstance(gateway_runtime.store, LocalObjectStore):
        app.include_router(local_object_router(gateway_runtime.store))
    _serve_console(app, gateway_settings)

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
