"""ASGI app of the inference service: ``uvicorn inference.app:create_app --factory``."""

from fastapi import FastAPI

from inference.config import Settings
from inference.definition import SERVICE
from inference.router import hot_predict, predict
from shared.naming import ID_PATTERN
from shared.service import ServiceRuntime, create_service_app, serve_first
from shared.service.hot_path import serve_hot

# /v1/infers/{service_id} with an id of the documented form; any other path goes to the routes.
_ID = ID_PATTERN.removeprefix("^").removesuffix("$")
PREDICT_PATH = rf"/v1/infers/(?P<service_id>{_ID})"


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    app = create_service_app(SERVICE, settings, runtime)
    # The usual predict skips FastAPI's routing and dependencies; the route (tried first) answers the rest.
    serve_hot(app, "POST", PREDICT_PATH, hot_predict)
    serve_first(app, "/v1/infers/{service_id}", predict, ["POST"])
    return app
