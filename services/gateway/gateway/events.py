"""Events for clients that do not speak AMQP: a server-sent-events stream and signed webhooks.

The gateway's consumer is bound to every event type of ``shared.events``. Each event is (1) handed to the
in-process hub, which fans it out to the open ``GET /v1/events`` streams of the event's tenant, and (2) turned
into one ``webhook_deliveries`` row per matching webhook, in the same transaction as the inbox claim, so a
delivery is never lost. A background loop posts due deliveries, signed with HMAC-SHA256 of the body under
the webhook's secret (``X-ExeML-Signature: sha256=<hex>``), and retries failures with exponential backoff.

The hub lives in one process: with several gateway replicas a stream sees the events its replica consumed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys import PrincipalDep, require_admin
from gateway.models import Webhook, WebhookDelivery
from shared.db import Repository
from shared.db.base import utcnow
from shared.events import registered_contracts
from shared.logging import get_logger
from shared.messaging.consumer import EventConsumer
from shared.messaging.envelope import Envelope
from shared.service import ServiceRuntime

__all__ = ["EventHub", "deliver_webhooks", "events_router", "register_event_fanout", "sign"]

log = get_logger(__name__)
SIGNATURE_HEADER = "X-ExeML-Signature"


class EventHub:
    """Open SSE streams per tenant; each gets its own bounded queue (a slow client drops, not blocks)."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[Envelope[Any]]]] = defaultdict(set)

    def subscribe(self, tenant_id: str) -> asyncio.Queue[Envelope[Any]]:
        queue: asyncio.Queue[Envelope[Any]] = asyncio.Queue(maxsize=1000)
        self._streams[tenant_id].add(queue)
        return queue

    def unsubscribe(self, tenant_id: str, queue: asyncio.Queue[Envelope[Any]]) -> None:
        self._streams[tenant_id].discard(queue)

    def publish(self, envelope: Envelope[Any]) -> None:
        for queue in list(self._streams.get(envelope.tenantid, ())):
            if queue.full():
                queue.get_nowait()  # drop the oldest for this slow reader
            queue.put_nowait(envelope)


def matches(patterns: list[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def register_event_fanout(consumer: EventConsumer) -> None:
    """Bind the gateway's consumer to every event type; attach the hub to the consumer."""
    hub = EventHub()
    consumer.hub = hub  # type: ignore[attr-defined]  # the app finds it through runtime.consumer

    async def fan_out(session: AsyncSession, envelope: Envelope[dict[str, Any]]) -> None:
        await enqueue_deliveries(session, envelope)
        hub.publish(envelope)

    for event_type in registered_contracts():
        consumer.handler(event_type, name="gateway.fan_out")(fan_out)


async def enqueue_deliveries(session: AsyncSession, envelope: Envelope[dict[str, Any]]) -> None:
    hooks = (await session.execute(
        sa.select(Webhook).where(Webhook.tenant_id == envelope.tenantid, Webhook.active.is_(True))
    )).scalars()
    body = envelope.to_bytes().decode()
    for hook in hooks:
        if matches(hook.event_types, envelope.type):
            session.add(WebhookDelivery(
                tenant_id=hook.tenant_id, webhook_id=hook.id, event_id=envelope.id, event_type=envelope.type,
                body=body, next_attempt_at=utcnow(),
            ))


async def deliver_webhooks(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Post due deliveries until ``stop``; retry with exponential backoff up to the attempt limit."""
    settings: Any = runtime.settings
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as client:
        while not stop.is_set():
            try:
                delivered = await _deliver_due(runtime, client, settings)
            except Exception as exc:  # the loop must survive a database hiccup
                log.warning("webhook delivery round failed", error=repr(exc))
                delivered = 0
            if not delivered:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
                except TimeoutError:
                    pass


async def _deliver_due(runtime: ServiceRuntime, client: httpx.AsyncClient, settings: Any) -> int:
    async with runtime.db.session() as session:
        due = (await session.execute(
            sa.select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.next_attempt_at).limit(20)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )).all()
        for delivery, hook in due:
            await _attempt(client, delivery, hook, settings)
        return len(due)


async def _attempt(client: httpx.AsyncClient, delivery: WebhookDelivery, hook: Webhook, settings: Any) -> None:
    body = delivery.body.encode()
    headers = {"Content-Type": "application/cloudevents+json", SIGNATURE_HEADER: sign(hook.secret, body),
               "X-ExeML-Event-Type": delivery.event_type, "X-ExeML-Delivery": delivery.id}
    delivery.attempts += 1
    try:
        response = await client.post(hook.url, content=body, headers=headers)
        delivery.response_status = response.status_code
        ok, error = response.is_success, None if response.is_success else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        ok, error = False, repr(exc)[:500]
    if ok:
        delivery.status, delivery.last_error = "delivered", None
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status, delivery.last_error = "failed", error
    else:
        delay = settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
        delivery.last_error, delivery.next_attempt_at = error, utcnow() + timedelta(seconds=delay)


class WebhookCreate(BaseModel):
    url: Annotated[HttpUrl, UrlConstraints(max_length=2048)] = Field(examples=["https://ci.example.com/exeml-hook"])
    event_types: list[str] = Field(
        min_length=1, max_length=50, examples=[["training.job.*", "inference.service.*"]],
        description="Event types or glob patterns (`*` matches any part)",
    )


_HOOK_EXAMPLE = {"id": "b41c9e2d7f3a4c5e9d8b7a6f5e4d3c2b", "url": "https://ci.example.com/exeml-hook",
                 "event_types": ["training.job.*", "inference.service.*"], "active": True,
                 "created_at": "2026-11-23T10:15:00Z"}
_DELIVERY_EXAMPLE = {"id": "e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3", "event_id": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                     "event_type": "training.job.completed.v1", "status": "delivered", "attempts": 1,
                     "response_status": 200, "last_error": None, "next_attempt_at": "2026-11-23T10:20:03Z"}


class WebhookRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_HOOK_EXAMPLE]})
    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    model_config = ConfigDict(json_schema_extra={"examples": [_HOOK_EXAMPLE | {"secret": "q8VtR2mZ0cYx5LwN7pKd3hFs9GjB1aEu4oTi6nMy"}]})
    secret: str = Field(description="HMAC-SHA256 key of the X-ExeML-Signature header: shown once")


class WebhookList(BaseModel):
    items: list[WebhookRead]
    total: int = Field(examples=[1])


class DeliveryRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    total: int = Field(examples=[1])


class WebhookRepository(Repository[Webhook]):
    model = Webhook
    resource_name = "webhook"


def _read(hook: Webhook) -> WebhookRead:
    return WebhookRead(id=hook.id, url=hook.url, event_types=hook.event_types, active=hook.active,
                       created_at=hook.created_at)


def events_router() -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/v1/events", summary="Server-sent events of the caller's tenant",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {"example": "id: 1\nevent: training.job.progressed.v1\ndata: {...}\n\n"}}}})
    async def stream_events(
        principal: PrincipalDep, request: Request,
        types: Annotated[str | None, Query(description="Comma-separated event types or globs; default all")] = None,
    ) -> StreamingResponse:
        """A text/event-stream of the tenant's events (phase changes, training progress, service status):
        `id` = event id, `event` = event type, `data` = the CloudEvents envelope as JSON."""
        hub: EventHub = request.app.state.runtime.consumer.hub
        patterns = [t.strip() for t in types.split(",") if t.strip()] if types else ["*"]
        keepalive = request.app.state.runtime.settings.sse_keepalive_seconds
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

    @router.post("/v1/webhooks", status_code=201, response_model=WebhookCreated, tags=["webhooks"],
                 summary="Register a webhook (admins)")
    async def create_webhook(body: WebhookCreate, principal: PrincipalDep, request: Request) -> WebhookCreated:
        """Events of the matching types are POSTed to `url` as CloudEvents JSON, signed with the returned
        secret (`X-ExeML-Signature: sha256=<hex HMAC of the body>`), retried with backoff until a 2xx."""
        require_admin(principal)
        async with request.app.state.runtime.db.session() as session:
            hook = await WebhookRepository(session, principal.tenant_id).add(
                Webhook(url=str(body.url), event_types=body.event_types, secret=secrets.token_urlsafe(32)))
            return WebhookCreated(**_read(hook).model_dump(), secret=hook.secret)

    @router.get("/v1/webhooks", tags=["webhooks"], summary="List webhooks", response_model=WebhookList)
    async def list_webhooks(principal: PrincipalDep, request: Request) -> WebhookList:
        """The tenant's webhooks (secrets are not shown again)."""
        async with request.app.state.runtime.db.session() as session:
            page = await WebhookRepository(session, principal.tenant_id).list(limit=1000)
            return WebhookList(items=[_read(h) for h in page.items], total=page.total)

    @router.get("/v1/webhooks/{webhook_id}/deliveries", tags=["webhooks"], summary="Deliveries of a webhook",
                response_model=DeliveryList)
    async def list_deliveries(webhook_id: str, principal: PrincipalDep, request: Request) -> DeliveryList:
        """The latest deliveries with their status, attempts and last error."""
        async with request.app.state.runtime.db.session() as session:
            await WebhookRepository(session, principal.tenant_id).get(webhook_id)
            rows = (await session.execute(
                sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.created_at.desc()).limit(100))).scalars().all()
            items = [DeliveryRead(id=r.id, event_id=r.event_id, event_type=r.event_type, status=r.status,
                                  attempts=r.attempts, response_status=r.response_status, last_error=r.last_error,
                                  next_attempt_at=r.next_attempt_at) for r in rows]
            return DeliveryList(items=items, total=len(items))

    @router.delete("/v1/webhooks/{webhook_id}", status_code=204, tags=["webhooks"], summary="Delete a webhook")
    async def delete_webhook(webhook_id: str, principal: PrincipalDep, request: Request) -> None:
        """Stop deliveries to this webhook and forget it (admins)."""
        require_admin(principal)
        async with request.app.state.runtime.db.session() as session:
            repo = WebhookRepository(session, principal.tenant_id)
            await repo.delete(await repo.get(webhook_id))

    return router
