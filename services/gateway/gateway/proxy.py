"""Routing of the public ``/v1`` API to the services, with an internal token per request."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
from fastapi import APIRouter, Request, Response

from gateway.config import Settings
from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, current_context
from shared.errors import NotFound, ServiceUnavailable, Unauthorized

__all__ = ["NESTED_ROUTES", "ROUTES", "ServiceClients", "proxy_router", "service_for_path", "bootstrap_api_key"]

# First path segment under /v1 -> owning service.
ROUTES = {
    "datasets": "dataset",
    "imports": "dataset",
    "training-jobs": "trainer",
    "models": "registry",
    "services": "inference",
    "infers": "inference",
    "projects": "workflow",
}
SERVICES = ("dataset", "labeling", "trainer", "registry", "inference", "workflow")
_HOP_HEADERS = {"host", "content-length", "connection", "authorization", "x-auth-token", INTERNAL_TOKEN_HEADER.lower()}


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

    async def aclose(self) -> None:
        for client in self.values():
            await client.aclose()


# Resources nested under another service's resource: (first segment, third segment) -> owner.
# /v1/datasets/{dataset_id}/labels... and /annotations... belong to labeling.
NESTED_ROUTES = {
    ("datasets", "labels"): "labeling",
    ("datasets", "annotations"): "labeling",
}


def service_for_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 3 and (parts[0], parts[2]) in NESTED_ROUTES:
        return NESTED_ROUTES[(parts[0], parts[2])]
    service = ROUTES.get(parts[0])
    if service is None:
        raise NotFound(f"no API at /v1/{path}")
    return service


def bootstrap_api_key(settings: Settings) -> str:
    """The admin API key: from EXEML_BOOTSTRAP_API_KEY, else generated once into <data_dir>/api-key."""
    if settings.bootstrap_api_key is not None:
        return settings.bootstrap_api_key.get_secret_value()
    path = Path(settings.data_dir) / "api-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "exeml_" + secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    print(f"ExeML admin API key (also in {path}): {key}", flush=True)
    return key


def _authenticate(request: Request) -> Principal:
    presented = request.headers.get("X-Auth-Token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
    expected: str = request.app.state.api_key
    if not presented or not secrets.compare_digest(presented.strip(), expected):
        raise Unauthorized("missing or invalid API key", error_code="ModelArts.0203")
    return Principal(tenant_id="default", subject="bootstrap-admin", roles=("admin",))


def proxy_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def forward(path: str, request: Request) -> Response:
        principal = _authenticate(request)
        clients: ServiceClients = request.app.state.clients
        service = service_for_path(path)
        if service not in clients:
            raise ServiceUnavailable(f"service {service} is not configured", error_code="ModelArts.4203")
        ctx = current_context()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        headers |= {
            INTERNAL_TOKEN_HEADER: request.app.state.token_codec.issue(principal),
            REQUEST_ID_HEADER: ctx.request_id or "",
            CORRELATION_ID_HEADER: ctx.correlation_id or "",
        }
        try:
            upstream = await clients[service].request(
                request.method, f"/v1/{path}", params=request.query_params, headers=headers, content=await request.body()
            )
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"service {service} unreachable: {exc}", error_code="ModelArts.4203") from exc
        # The gateway's own middleware sets the id headers; the upstream copies would duplicate them.
        dropped = {"content-length", "transfer-encoding", "content-encoding", REQUEST_ID_HEADER.lower(), CORRELATION_ID_HEADER.lower()}
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in dropped}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    return router
