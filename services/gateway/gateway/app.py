"""ASGI app of the gateway: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.config import Settings
from gateway.definition import SERVICE
from gateway.docs import docs_router, strip_default_docs
from gateway.keys import ensure_bootstrap_key
from gateway.proxy import ServiceClients, proxy_router, serve_predicts_first
from gateway.verified_keys import VerifiedKeys
from shared.service import ServiceRuntime, create_service_app


def create_app(
    settings: Settings | None = None,
    runtime: ServiceRuntime | None = None,
    clients: ServiceClients | None = None,
) -> FastAPI:
    """The gateway; ``clients`` reach the services (embedded: in-process apps; default: their URLs).

    The gateway's own routes (API keys, webhooks, events) come before the catch-all proxy of ``/v1``.
    """
    settings = settings or (runtime.settings if runtime else Settings())
    app = create_service_app(SERVICE, settings, runtime, extra_routers=[proxy_router()])
    strip_default_docs(app)
    app.include_router(docs_router(app))
    serve_predicts_first(app)
    runtime = app.state.runtime
    runtime.component(VerifiedKeys).configure(settings.key_cache_size, settings.key_cache_seconds)
    app.state.clients = clients if clients is not None else ServiceClients.from_settings(settings)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(_app):
            # The schema exists by now (migrate one-shot, or the embedded launcher migrated first).
            await ensure_bootstrap_key(app.state.runtime.db, settings)
            yield

    app.router.lifespan_context = lifespan
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "X-Correlation-ID"],
        )
    return app
