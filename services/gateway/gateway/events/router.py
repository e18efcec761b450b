"""``GET /v1/events``: the caller's tenant's events as server-sent events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from gateway.events.hub import EventHub
from gateway.keys import PrincipalDep
from gateway.webhooks.service import matches
from shared.service import RuntimeDep

__all__ = ["router"]

router = APIRouter(tags=["events"])
_SSE_EXAMPLE = "id: 1\nevent: training.job.progressed.v1\ndata: {...}\n\n"


@router.get(
    "/v1/events",
    summary="Server-sent events of the caller's tenant",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"example": _SSE_EXAMPLE}}}},
)
async def stream_events(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    types: Annotated[
        str | None, Query(description="Comma-separated event types or globs; default all")
    ] = None,
) -> StreamingResponse:
    """A text/event-stream of the tenant's events (phase changes, training progress, service status):
    `id` = event id, `event` = event type, `data` = the CloudEvents envelope as JSON."""
    hub = runtime.component(EventHub)
    patterns = [t.strip() for t in types.split(",") if t.strip()] if types else ["*"]
    keepalive = runtime.settings.sse_keepalive_seconds
    queue = hub.subscribe(principal.tenant_id)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                try:
                    envelope = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if matches(patterns, envelope.type):
                    data = envelope.to_bytes().decode()
                    yield f"id: {envelope.id}\nevent: {envelope.type}\ndata: {data}\n\n".encode()
        finally:
            hub.unsubscribe(principal.tenant_id, queue)

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
