"""The public API documents: the aggregated OpenAPI 3.1 of every service, Swagger UI, and AsyncAPI 3.0.

``/openapi.json`` merges the gateway's own operations (API keys, webhooks, the event stream) with the
``/v1`` operations of every service, fetched from their ``/openapi.json`` (service-internal routes and
health probes are left out). Schema names get the service as a prefix so two services may both define
``Page``. Every operation is documented for the public credential (Bearer or ``X-Auth-Token``).
``/asyncapi.json`` documents the events of ``shared.events`` for integrators on the bus and, read from each
service's definition, which service publishes and which consumes each of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

import shared
from shared.events import EventContract, registered_contracts
from shared.logging import get_logger
from shared.messaging.transport import EVENTS_EXCHANGE
from shared.service import PLATFORM_SERVICES, ServiceDefinition, load_definition
from shared.service.openapi import SHARED_SCHEMAS, complete_openapi

__all__ = ["asyncapi_document", "docs_router", "merge_openapi", "strip_default_docs"]

log = get_logger(__name__)
_SECURITY_SCHEMES = {
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "XAuthToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
        "description": "ModelArts style",
    },
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
    out["components"] = {
        "schemas": {
            (k if k in SHARED_SCHEMAS else f"{prefix}_{k}"): v
            for k, v in out.get("components", {}).get("schemas", {}).items()
        }
    }
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


def _key(event_type: str) -> str:
    return event_type.replace(".", "_")


def _service_operations(definitions: Sequence[ServiceDefinition]) -> dict[str, Any]:
    """One ``send`` operation per (service, event it publishes), one ``receive`` per (service, event it
    consumes): who produces and who reacts to each event, as the code declares it."""
    operations: dict[str, Any] = {}

    def add(service: str, action: str, contract: type[EventContract]) -> None:
        key = _key(contract.event_type)
        verb = "publishes" if action == "send" else "consumes"
        operations[f"{service}_{action}_{key}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "tags": [{"name": service}],
            "summary": f"The {service} service {verb} {contract.event_type}",
        }

    for definition in definitions:
        for contract in definition.publishes:
            add(definition.name, "send", contract)
        for contract in definition.consumes():
            add(definition.name, "receive", contract)
    return operations


@cache
def platform_definitions() -> tuple[ServiceDefinition, ...]:
    """Every service's definition (imported once, on the first request for the document)."""
    return tuple(load_definition(name) for name in PLATFORM_SERVICES)


def asyncapi_document(definitions: Sequence[ServiceDefinition] = ()) -> dict[str, Any]:
    """The events (channels and messages) for integrators, and the services' own operations on them."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, contract in registered_contracts().items():
        key = _key(event_type)
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
                    "specversion": {"const": "1.0"},
                    "id": {"type": "string"},
                    "source": {"type": "string"},
                    "type": {"const": event_type},
                    "time": {"type": "string", "format": "date-time"},
                    "subject": {"type": ["string", "null"]},
                    "tenantid": {"type": "string"},
                    "correlationid": {"type": ["string", "null"]},
                    "data": contract.model_json_schema(),
                },
            },
        }
        channels[key] = {
            "address": event_type,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": EVENTS_EXCHANGE, "type": "topic", "durable": True},
                }
            },
        }
        operations[f"receive_{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"An integrator's queue bound to {event_type}",
        }
    operations.update(_service_operations(definitions))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ExeML events",
            "version": shared.__version__,
            "description": f"Every event on the topic exchange `{EVENTS_EXCHANGE}` (routing key = event type). "
            "Bind a queue with patterns such as `training.job.#`. Operations tagged with a "
            "service name say which service publishes (`send`) or consumes (`receive`) an event.",
        },
        "tags": [{"name": d.name, "description": d.title} for d in definitions],
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
            except Exception as exc:  # noqa: BLE001  # one service down must not hide the others' documentation
                log.warning("openapi of a service unavailable", service=name, error=repr(exc))
        return merge_openapi(own, services)

    @router.get("/docs")
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ExeML API")

    @router.get("/asyncapi.json")
    async def asyncapi() -> dict[str, Any]:
        return asyncapi_document(platform_definitions())

    return router
