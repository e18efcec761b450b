"""Routing of the public ``/v1`` API to the services, with an internal token per request (how the request
travels: :mod:`gateway.forwarding`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from gateway.config import Settings
from gateway.forwarding import InProcessCall, forward_over_http
from gateway.keys import authenticate
from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, current_context
from shared.errors import ErrorDetail, Forbidden, NotFound, PayloadTooLarge, PeerUnavailable
from shared.service import serve_first
from shared.service.hot_path import serve_hot
from shared.service.http import allowed_methods
from shared.stages import stage

__all__ = [
    "NESTED_ROUTES",
    "ROUTES",
    "ServiceClients",
    "forward",
    "proxy_router",
    "serve_predicts_first",
    "service_for_path",
]

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
_TOKEN, _REQUEST_ID, _CORRELATION_ID = (
    h.lower().encode() for h in (INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, CORRELATION_ID_HEADER)
)
# What the gateway does not pass on of the client's headers: hop-by-hop ones, the length (set anew), the
# client's credentials and any internal token it sent, and the ids (the request's own are set).
_NOT_FORWARDED = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"connection", b"authorization", b"x-auth-token"}
    | {_TOKEN, _REQUEST_ID, _CORRELATION_ID}
)


class ServiceClients(dict[str, httpx.AsyncClient]):
    """How the gateway reaches each service: an HTTP client per service (pooled keep-alive connections to its
    URL in the distributed mode), and in the embedded mode also the service's ASGI app (:attr:`apps`), which
    the proxy calls in-process. Setting a client for a name (tests put stand-ins there) replaces its app."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient] | None = None,
        apps: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        super().__init__(clients or {})
        self.apps = dict(apps or {})

    def __setitem__(self, name: str, client: httpx.AsyncClient) -> None:
        self.apps.pop(name, None)
        super().__setitem__(name, client)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, client in dict(*args, **kwargs).items():
            self[name] = client

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceClients:
        clients = cls()
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=60)
        for name in SERVICES:
            url = getattr(settings, f"{name}_url")
            if url:
                clients[name] = httpx.AsyncClient(
                    base_url=url, timeout=settings.request_timeout_seconds, limits=limits
                )
        return clients

    @classmethod
    def in_process(cls, apps: Mapping[str, ASGIApp]) -> ServiceClients:
        """The embedded mode: each service's app called in this process (its HTTP client, over
        ``ASGITransport``, serves the aggregated OpenAPI and tools)."""
        clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            for name, app in apps.items()
        }
        return cls(clients, apps)

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


async def _body_unless_declared(request: Request, limit: int) -> bytes | None:
    """``None`` when the body may stream through (its declared length is within ``limit``; 413 if not);
    else the body, read up to ``limit`` (a chunked upload has no length to check beforehand)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
        return None
    return await read_body(request, limit)


def _upstream_headers(request: Request, token: str, body: bytes | None) -> list[tuple[bytes, bytes]]:
    """The client's headers less its credentials, ids and hop-by-hop ones, plus the internal token and the
    request's ids: raw ASGI pairs (lower-case names), as the service app or the HTTP client takes them."""
    ctx = current_context()
    length = request.headers.get("content-length", "0") if body is None else str(len(body))
    return [
        *((k, v) for k, v in request.scope["headers"] if k not in _NOT_FORWARDED),
        (b"content-length", length.encode()),
        (_TOKEN, token.encode()),
        (_REQUEST_ID, (ctx.request_id or "").encode()),
        (_CORRELATION_ID, (ctx.correlation_id or "").encode()),
    ]


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
_PREDICT_PATH = "/v1/infers/{service_path:path}"


async def forward(path: str, request: Request) -> Response:
    """Authenticate the caller and hand ``/v1/{path}`` to the service that owns it."""
    return await _forward(path, request, own_paths=True)


async def forward_predict(service_path: str, request: Request) -> Response:
    """``POST /v1/infers/…``: the same forwarding, served ahead of the gateway's other routes (none of which
    is under ``/v1/infers``)."""
    return await _forward(f"infers/{service_path}", request, own_paths=False)


async def _forward(path: str, request: Request, *, own_paths: bool) -> Response:
    with stage("gateway.auth"):
        principal = await authenticate(request)
    with stage("gateway.route"):
        own_methods = (
            allowed_methods(request.app, request.scope, ignore=(_PROXY_PATH, _PREDICT_PATH))
            if own_paths
            else []
        )
        if own_methods:  # a path of the gateway's own (API keys, webhooks) with another method
            raise StarletteHTTPException(405, headers={"Allow": ", ".join(own_methods)})
        service = service_for_path(path)
        check_role(principal, request.method, path)
    clients: ServiceClients = request.app.state.clients
    if service not in clients and service not in clients.apps:
        raise PeerUnavailable(f"service {service} is not configured")
    with stage("gateway.body"):
        body = await _body_unless_declared(request, request.app.state.runtime.settings.max_request_bytes)
    with stage("gateway.token"):
        headers = _upstream_headers(request, request.app.state.token_codec.token_for(principal), body)
    if service in clients.apps:  # the embedded mode: the app itself, no HTTP client in between
        return InProcessCall(clients.apps[service], headers, body)
    return await forward_over_http(clients[service], service, _raw_path(request), request, headers, body)


def proxy_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route(_PROXY_PATH, forward, methods=[*_METHODS], include_in_schema=False)
    return router


async def _hot_predict(request: Request, params: dict[str, str]) -> Response:
    return await forward_predict(params["service_path"], request)


def serve_predicts_first(app: FastAPI) -> None:
    """Predictions skip FastAPI's routing (the trial of every gateway route before the catch-all proxy) and
    dependency solving: :func:`shared.service.hot_path.serve_hot`."""
    serve_hot(app, "POST", r"/v1/infers/(?P<service_path>.+)", _hot_predict)
    # The same endpoint as a route, first: it names predicts in the request metrics (the route template).
    serve_first(app, _PREDICT_PATH, forward_predict, ["POST"])
