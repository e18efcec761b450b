"""ASGI app of the dataset service: ``uvicorn dataset.app:create_app --factory``."""

from fastapi import FastAPI

from dataset.config import Settings
from dataset.definition import SERVICE
from shared.service import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
