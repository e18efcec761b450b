"""ASGI app of the inference service: ``uvicorn inference.app:create_app --factory``."""

from fastapi import FastAPI

from inference.config import Settings
from inference.definition import SERVICE
from inference.router import predict
from shared.service import ServiceRuntime, create_service_app, serve_first


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    app = create_service_app(SERVICE, settings, runtime)
    serve_first(app, "/v1/infers/{service_id}", predict, ["POST"])
    return app
