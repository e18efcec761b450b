"""ASGI app of the gateway: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.config import Settings
from gateway.definition import SERVICE
from gateway.proxy import ServiceClients, bootstrap_api_key, proxy_router
from shared.service import ServiceRuntime, create_service_app


def create_app(
    settings: Settings | None = None,
    runtime: ServiceRuntime | None = None,
    clients: ServiceClients | None = None,
) -> FastAPI:
    """The gateway; ``clients`` reach the services (embedded: in-process apps; default: their URLs)."""
    settings = settings or (runtime.settings if runtime else Settings())
    app = create_service_app(SERVICE, settings, runtime, extra_routers=[proxy_router()])
    app.state.clients = clients if clients is not None else ServiceClients.from_settings(settings)
    app.state.api_key = bootstrap_api_key(settings)
    return app
