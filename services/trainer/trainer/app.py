"""ASGI app of the trainer service: ``uvicorn trainer.app:create_app --factory``."""

from fastapi import FastAPI

from shared.service import ServiceRuntime, create_service_app
from trainer.config import Settings
from trainer.definition import SERVICE


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    return create_service_app(SERVICE, settings, runtime)
