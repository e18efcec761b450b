"""ASGI app of the workflow service: ``uvicorn workflow.app:create_app --factory``."""

from fastapi import FastAPI

from shared.service import ServiceRuntime, create_service_app
from workflow.config import Settings
from workflow.definition import SERVICE


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
