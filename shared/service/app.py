"""The app factory every service uses: lifespan, middleware, errors, health, readiness, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

import shared
from shared.auth import Principal, require_principal
from shared.logging import configure_logging
from shared.service.definition import ServiceDefinition
from shared.service.http import RequestContextMiddleware, install_error_handlers
from shared.service.json_guard import JsonLimitMiddleware
from shared.service.openapi import install_openapi
from shared.service.runtime import ServiceRuntime, SettingsT, build_runtime

__all__ = [
    "RuntimeDep",
    "SessionDep",
    "create_service_app",
    "get_runtime",
    "get_session",
    "serve_first",
    "tenant_service",
]

ServiceT = TypeVar("ServiceT")


def _runtime_of(request: Request) -> ServiceRuntime[Any]:
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> ServiceRuntime[Any]:
    """The app's runtime. A coroutine, not a plain function: FastAPI runs a plain dependency in a worker
    thread, and that hop was the dearest part of a predict's dependencies."""
    return _runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request = one transaction, committed when the route returns without error."""
    async with _runtime_of(request).db.session() as session:
        yield session


RuntimeDep = Annotated[ServiceRuntime[Any], Depends(get_runtime)]
# scope="function": the transaction ends before the answer is sent. FastAPI's default ends a yield dependency
# after the response, so a client could read before the write was committed, and a commit that failed had
# already been answered 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def tenant_service(
    factory: Callable[[AsyncSession, ServiceRuntime[Any], str], ServiceT],
    authenticate: Callable[..., Any] = require_principal,
) -> Callable[..., Awaitable[ServiceT]]:
    """The dependency that builds a service object for the caller's tenant, in the request's transaction: a
    router declares ``ServiceDep = Annotated[XService, Depends(tenant_service(XService))]`` and its routes take
    ``service: ServiceDep`` (writes add ``WriterDep``). ``authenticate`` finds the caller: the internal token
    (services), or the gateway's API key check."""

    async def dependency(  # a coroutine: FastAPI would run a plain function in a worker thread
        session: SessionDep,
        runtime: RuntimeDep,
        # A default, not an Annotated alias: the authentication is chosen per call of tenant_service.
        principal: Principal = Depends(authenticate),
    ) -> ServiceT:
        return factory(session, runtime, principal.tenant_id)

    return dependency


def operation_id(route: APIRoute) -> str:
    """The route function's name (``list_datasets``): what generated clients name their methods after, so it
    must be stable and unique across the services (the gateway's OpenAPI test checks it); FastAPI's default
    appends the path and method (``list_datasets_v1_datasets_get``)."""
    return route.name


def serve_first(app: FastAPI, path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
    """Answer ``methods`` on ``path`` with ``endpoint`` before any other route is tried (the hot path).

    FastAPI tries routes in order and matches an included router's routes twice (to choose, then to handle):
    a predict behind the health, services and batch routers paid for some twenty route matches. The route
    added here is the same endpoint with the same dependencies, left out of the OpenAPI document, which keeps
    documenting it where its router put it."""
    app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())


def health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Readiness: database, storage and bus answer")
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {
            "status": "ok" if ready else "unavailable",
            "service": service,
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    definition: ServiceDefinition[SettingsT],
    settings: SettingsT | None = None,
    runtime: ServiceRuntime[SettingsT] | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build a service's FastAPI app.

    Given a ``runtime`` (the embedded launcher and tests), the app uses it as is and leaves its life
    cycle to the caller. Otherwise the app builds one from ``settings`` and starts it in its lifespan
    (distributed mode: the API process connects to the database and storage; the worker process runs
    the relay and consumers).
    """
    settings = settings or (runtime.settings if runtime else definition.settings_cls())
    configure_logging(settings.log_level, settings.log_json)
    owns_runtime = runtime is None
    runtime = runtime or build_runtime(definition, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if owns_runtime:
            await runtime.start(background=False)
        try:
            yield
        finally:
            if owns_runtime:
                await runtime.stop()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=shared.__version__,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # The platform's metrics are Prometheus' (/metrics) and its logs structlog's: FastAPI's own
        # OpenTelemetry hooks only looked up three global providers on every request (3 us) to find none.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    app.state.token_codec = runtime.token_codec
    # Added first, so it runs inside the request context (its 400/413 carry request ids and are logged).
    app.add_middleware(
        JsonLimitMiddleware, max_bytes=settings.max_json_bytes, max_depth=settings.max_json_depth
    )
    app.add_middleware(RequestContextMiddleware, service=definition.name)
    install_error_handlers(app)
    app.include_router(health_router(definition.name))
    for router in (*definition.routers(), *extra_routers):
        app.include_router(router)
    install_openapi(app)
    return app
