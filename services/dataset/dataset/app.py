"""ASGI app of the dataset service: ``uvicorn dataset.app:create_app --factory``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dataset import tasks
from dataset.config import Settings
from dataset.definition import SERVICE
from dataset.resume import resume_pending
from shared.service import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    app = create_service_app(SERVICE, settings, runtime)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with inner(application):
            # Import and publish tasks interrupted by a restart continue where they stopped (in the
            # background: a database that is not ready yet must not keep the API from starting).
            tasks.spawn(resume_pending(application.state.runtime), "resume-pending")
            try:
                yield
            finally:
                await tasks.drain(timeout=10)

    app.router.lifespan_context = lifespan
    return app
