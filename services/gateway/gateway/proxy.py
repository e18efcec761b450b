"""Routing of the public ``/v1`` API to the services, with an internal token per request."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from gateway.config import Settings
from gateway.keys import authenticate
from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, current_context
from shared.errors import ErrorDetail, Forbidden, NotFound, PayloadTooLarge, PeerUnavailable
from shared.service.http import allowed_methods
from shared.stages import stage

__all__ = ["NESTED_ROUTES", "ROUTES", "ServiceClients", "proxy_router", "service_for_path"]

# First path segment under /v1 -> owning service.
ROUTES = {
    "datasets": "dataset",
    "training-jobs": "trainer",
    "models": "registry",
    "services": "inference",
    "batch-services": "inference",
    "infers": "inference",
    "projects": "workflow",
}
SERVICES = ("dataset", "labeling", "trainer", "registry", "inference", "workflow")
_HOP_HEADERS = {
    "host",
    "content-length",
    "connection",
    "authorization",
    "x-auth-token",
    INTERNAL_TOKEN_HEADER.lower(),
}


class ServiceClients(dict[str, httpx.AsyncClient]):
    """One HTTP client per service: real URLs (distributed) or in-process ASGI apps (embedded)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceClients:
        clients = cls()
        for name in SERVICES:
            url = getattr(settings, f"{name}_url")
            if url:
                clients[name] = httpx.AsyncClient(base_url=url, timeout=settings.request_timeout_seconds)
        return clients

    @classmethod
    def in_process(cls, apps: Mapping[str, ASGIApp]) -> ServiceClients:
        """The embedded mode: each service's app called in this process."""
        return cls(
            {
                name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
                for name, app in apps.items()
            }
        )

    async def aclose(self) -> None:
        for client in self.values():
            await client.aclose()


# Resources nested under another service's resource: (first segment, third segment) -> owner.
# /v1/datasets/{dataset_id}/labels..., /annotations..., /prelabel-tasks... and /suggestions... belong to labeling.
NESTED_ROUTES = {
    ("datasets", "labels"): "labeling",
    ("datasets", "annotations"): "labeling",
    ("datasets", "prelabel-tasks"): "labeling",
    ("datasets", "suggestions"): "labeling",
}


def service_for_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 3 and (parts[0], parts[2]) in NESTED_ROUTES:
        return NESTED_ROUTES[(parts[0], parts[2])]
    service = ROUTES.get(parts[0])
    if service is None:
        raise NotFound(f"no API at /v1/{path}")
    return service


_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def check_role(principal: Principal, method: str, path: str) -> None:
    """Viewers read and predict; they change nothing."""
    if method in _READ_METHODS or principal.can_write():
        return
    if method == "POST" and path.startswith("infers/"):
        return
    raise Forbidden(
        "viewer keys may only read and predict",
        details=[
            ErrorDetail(
                rule="role_viewer_read_only", msg=f"{method} /v1/{path} needs role developer or admin"
            )
        ],
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body of {size} bytes exceeds the gateway limit of {limit} bytes",
        details=[ErrorDetail(rule="max_request_bytes", msg=f"at most {limit} bytes", value=size)],
    )


def _raw_path(request: Request) -> str:
    """The path as the client encoded it: decoded ids (control characters, ``%2F``) must not be re-parsed."""
    raw = request.scope.get("raw_path")
    return raw.decode("ascii", "replace") if raw else request.url.path


# OPTIONS and HEAD go to the services too: they answer 405 naming the methods the path allows.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
_PROXY_PATH = "/v1/{path:path}"


def proxy_router() -> APIRouter:
    router = APIRouter()

    @router.api_route(_PROXY_PATH, methods=[*_METHODS], include_in_schema=False)
    async def forward(path: str, request: Request) -> Response:
        with stage("gateway.auth"):
            principal = await authenticate(request)
        own_methods = allowed_methods(request.app, request.scope, ignore=(_PROXY_PATH,))
        if own_methods:  # a path of the gateway's own (API keys, webhooks) with another method
            raise StarletteHTTPException(405, headers={"Allow": ", ".join(own_methods)})
        service = service_for_path(path)
        check_role(principal, request.method, path)
        with stage("gateway.body"):
            body = await read_body(request, request.app.state.runtime.settings.max_request_bytes)
        clients: ServiceClients = request.app.state.clients
        if service not in clients:
            raise PeerUnavailable(f"service {service} is not configured")
        ctx = current_context()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        with stage("gateway.token"):
            token = request.app.state.token_codec.issue(principal)
        headers |= {
            INTERNAL_TOKEN_HEADER: token,
            REQUEST_ID_HEADER: ctx.request_id or "",
            CORRELATION_ID_HEADER: ctx.correlation_id or "",
        }
        try:
            with stage("gateway.upstream"):
                upstream = await clients[service].request(
                    request.method,
                    _raw_path(request),
                    params=request.query_params,
                    headers=headers,
                    content=body,
                )
        except httpx.TransportError as exc:
            raise PeerUnavailable(f"service {service} unreachable: {exc}") from exc
        # The gateway's own middleware sets the id headers; the upstream copies would duplicate them.
        dropped = {
            "content-length",
            "transfer-encoding",
            "content-encoding",
            REQUEST_ID_HEADER.lower(),
            CORRELATION_ID_HEADER.lower(),
        }
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in dropped}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    return router
