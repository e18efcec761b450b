"""ASGI app of the labeling service: ``uvicorn labeling.app:create_app --factory``."""

from fastapi import FastAPI

from labeling.config import Settings
from labeling.definition import SERVICE
from shared.service import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
