"""The rules of webhooks: register (destination vetted), list, list deliveries, delete, and one delivery row
per matching webhook for each event the gateway consumes."""

from __future__ import annotations

import fnmatch
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.models import Webhook, WebhookDelivery
from gateway.webhooks.delivery import destination_policy
from gateway.webhooks.repository import DeliveryRepository, WebhookRepository
from gateway.webhooks.schemas import WebhookCreate
from shared.db import Page
from shared.db.base import utcnow
from shared.events import EventContract
from shared.messaging import Envelope
from shared.service import ServiceRuntime

__all__ = ["WebhookService", "matches"]


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether an event type matches any of the glob patterns (``training.job.*``)."""
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


class WebhookService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.runtime, self.tenant_id = runtime, tenant_id
        self.webhooks = WebhookRepository(session, tenant_id)
        self.deliveries = DeliveryRepository(session, tenant_id)

    async def create(self, body: WebhookCreate) -> Webhook:
        await destination_policy(self.runtime.settings).check(str(body.url))
        return await self.webhooks.add(
            Webhook(url=str(body.url), event_types=body.event_types, secret=secrets.token_urlsafe(32))
        )

    async def search(self, *, offset: int, limit: int) -> Page[Webhook]:
        return await self.webhooks.list(offset=offset, limit=limit)

    async def deliveries_of(self, webhook_id: str, *, offset: int, limit: int) -> Page[WebhookDelivery]:
        await self.webhooks.get(webhook_id)
        return await self.deliveries.of_webhook(webhook_id, offset=offset, limit=limit)

    async def delete(self, webhook_id: str) -> None:
        await self.webhooks.delete(await self.webhooks.get(webhook_id))

    async def enqueue(self, envelope: Envelope[EventContract]) -> None:
        """One delivery per active webhook of the event's tenant whose patterns match its type, written in the
        consumer's transaction (with the inbox claim), so a delivery is never lost."""
        body = envelope.to_bytes().decode()
        for hook in await self.webhooks.active():
            if matches(hook.event_types, envelope.type):
                await self.deliveries.add(
                    WebhookDelivery(
                        webhook_id=hook.id,
                        event_id=envelope.id,
                        event_type=envelope.type,
                        body=body,
                        next_attempt_at=utcnow(),
                    )
                )
