"""ASGI app of the inference service: ``uvicorn inference.app:create_app --factory``."""

from fastapi import FastAPI

from inference.config import Settings
from inference.definition import SERVICE
from shared.service import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
