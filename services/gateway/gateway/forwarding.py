"""How the gateway hands a request to the service that owns it, without copying the payload.

Embedded mode: the service's ASGI app runs in this process, so the gateway calls it directly with the
request's own ``receive`` and ``send`` (:class:`InProcessCall`): the body streams from the client into the
service and the answer from the service to the client, with no HTTP client in between; a request the
service's hot path takes (a predict, :mod:`shared.service.hot_path`) goes straight to it. Distributed mode: one
pooled keep-alive ``httpx`` client per service, the body streamed up and the answer streamed back
(:func:`forward_over_http`). Either way the service's own request-id headers are left out: the gateway's
middleware sets them once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER
from shared.errors import PeerUnavailable
from shared.service.hot_path import answer_in_process
from shared.service.json_guard import replay_body
from shared.stages import stage

__all__ = ["InProcessCall", "forward_over_http"]

_ID_HEADERS = {REQUEST_ID_HEADER.lower(), CORRELATION_ID_HEADER.lower()}
_ID_HEADERS_BYTES = {h.encode() for h in _ID_HEADERS}
_RESPONSE_HOP_HEADERS = {"transfer-encoding", "connection", "keep-alive", *_ID_HEADERS}
# What a service app needs of the client's scope; the gateway's routing state (app, route, path params) stays.
_SCOPE_KEYS = (
    "type",
    "asgi",
    "http_version",
    "method",
    "scheme",
    "server",
    "client",
    "root_path",
    "path",
    "raw_path",
    "query_string",
    "extensions",
)


class InProcessCall(Response):
    """The answer of a service app called in this process: it reads the client's body and writes the client's
    answer itself. ``body`` is the request body when the gateway had to read it (no declared length)."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]], body: bytes | None = None) -> None:
        # Not Response.__init__: there is no body of our own to render.
        self.app, self.body_read, self.request_headers = app, body, headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner: Scope = {k: scope[k] for k in _SCOPE_KEYS if k in scope}
        inner["headers"] = self.request_headers
        inner["state"] = {}
        if self.body_read is not None:
            receive = replay_body(self.body_read, receive)
        with stage("gateway.upstream"):
            # The service's hot path (a predict) straight away: this request's context, limits and error
            # rendering are the gateway's already; anything else through the service's whole app.
            if not await answer_in_process(self.app, inner, receive, send):
                await self.app(inner, receive, _without_id_headers(send))
        if self.background is not None:
            await self.background()


def _without_id_headers(send: Send) -> Send:
    async def forward(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                (k, v) for k, v in message.get("headers", []) if k.lower() not in _ID_HEADERS_BYTES
            ]
        await send(message)

    return forward


async def forward_over_http(
    client: httpx.AsyncClient,
    service: str,
    path: str,
    request: Request,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
) -> Response:
    """Send the request to ``service`` over ``client`` and stream its answer back as it arrives."""
    content: bytes | AsyncIterator[bytes] = body if body is not None else request.stream()
    upstream_request = client.build_request(
        request.method, path, params=request.query_params, headers=headers, content=content
    )
    try:
        with stage("gateway.upstream"):
            upstream = await client.send(upstream_request, stream=True)
    except httpx.TransportError as exc:
        raise PeerUnavailable(f"service {service} unreachable: {exc}") from exc
    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_HOP_HEADERS}
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=out_headers,
        background=BackgroundTask(upstream.aclose),
    )
