"""The public API documents: the aggregated OpenAPI 3.1 of every service, Swagger UI, and AsyncAPI 3.0.

``/openapi.json`` merges the gateway's own operations (API keys, webhooks, the event stream) with the
``/v1`` operations of every service, fetched from their ``/openapi.json`` (service-internal routes and
health probes are left out). Schema names get the service as a prefix so two services may both define
``Page``. Every operation is documented for the public credential (Bearer or ``X-Auth-Token``).
``/asyncapi.json`` documents the events of ``shared.events`` for integrators on the bus.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

import shared
from shared.events import registered_contracts
from shared.logging import get_logger
from shared.service.openapi import SHARED_SCHEMAS, complete_openapi
from shared.messaging.transport import EVENTS_EXCHANGE

__all__ = ["asyncapi_document", "docs_router", "merge_openapi", "strip_default_docs"]

log = get_logger(__name__)
_SECURITY_SCHEMES = {
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "XAuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token", "description": "ModelArts style"},
}
_DEFAULT_DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def strip_default_docs(app: FastAPI) -> None:
    """Remove FastAPI's own document routes: the gateway serves the aggregated ones."""
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in _DEFAULT_DOC_PATHS]


def _prefixed(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    text = json.dumps(doc).replace('"#/components/schemas/', f'"#/components/schemas/{prefix}_')
    for name in SHARED_SCHEMAS:  # one copy of the error body for all
        text = text.replace(f'"#/components/schemas/{prefix}_{name}"', f'"#/components/schemas/{name}"')
    out = json.loads(text)
    out["components"] = {"schemas": {
        (k if k in SHARED_SCHEMAS else f"{prefix}_{k}"): v for k, v in out.get("components", {}).get("schemas", {}).items()
    }}
    return out


def merge_openapi(own: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "ExeML API",
            "version": shared.__version__,
            "description": "Code-free AutoML: datasets, labeling, training, models, real-time services and "
                           "ExeML projects. Authenticate with `Authorization: Bearer <key>` or `X-Auth-Token`.",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": _SECURITY_SCHEMES},
        "security": [{"BearerKey": []}, {"XAuthToken": []}],
        "tags": [],
    }
    for prefix, doc in {"gateway": own, **services}.items():
        doc = _prefixed(doc, prefix)
        merged["components"]["schemas"].update(doc["components"]["schemas"])
        for path, operations in doc.get("paths", {}).items():
            if path.startswith("/v1/"):
                merged["paths"].setdefault(path, {}).update(operations)
    return merged


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, contract in registered_contracts().items():
        key = event_type.replace(".", "_")
        messages[key] = {
            "name": event_type,
            "title": contract.__name__,
            "summary": (contract.__doc__ or event_type).strip().splitlines()[0],
            "contentType": "application/cloudevents+json",
            "payload": {
                "type": "object",
                "description": "CloudEvents 1.0 envelope with tenantid and correlationid; `data` is the payload",
                "required": ["specversion", "id", "source", "type", "time", "tenantid", "data"],
                "properties": {
                    "specversion": {"const": "1.0"}, "id": {"type": "string"}, "source": {"type": "string"},
                    "type": {"const": event_type}, "time": {"type": "string", "format": "date-time"},
                    "subject": {"type": ["string", "null"]}, "tenantid": {"type": "string"},
                    "correlationid": {"type": ["string", "null"]},
                    "data": contract.model_json_schema(),
                },
            },
        }
        channels[key] = {"address": event_type, "messages": {key: {"$ref": f"#/components/messages/{key}"}},
                         "bindings": {"amqp": {"is": "routingKey", "exchange": {"name": EVENTS_EXCHANGE, "type": "topic", "durable": True}}}}
        operations[f"receive_{key}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{key}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "ExeML events", "version": shared.__version__,
                 "description": f"Every event on the topic exchange `{EVENTS_EXCHANGE}` (routing key = event type). "
                                "Bind a queue with patterns such as `training.job.#`."},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi(request: Request) -> dict[str, Any]:
        own = complete_openapi(get_openapi(title="gateway", version=shared.__version__, routes=app.routes))
        services: dict[str, dict[str, Any]] = {}
        for name, client in request.app.state.clients.items():
            try:
                response = await client.get("/openapi.json")
                response.raise_for_status()
                services[name] = response.json()
            except Exception as exc:  # one service down must not hide the others' documentation
                log.warning("openapi of a service unavailable", service=name, error=repr(exc))
        return merge_openapi(own, services)

    @router.get("/docs")
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ExeML API")

    @router.get("/asyncapi.json")
    async def asyncapi() -> dict[str, Any]:
        return asyncapi_document()

    return router
