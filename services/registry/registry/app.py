"""ASGI app of the registry service: ``uvicorn registry.app:create_app --factory``."""

from fastapi import FastAPI

from registry.config import Settings
from registry.definition import SERVICE
from shared.service import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
