"""Queries on webhooks and their deliveries: the only place that builds them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import WebhookNotFound
from gateway.models import DeliveryStatus, Webhook, WebhookDelivery
from shared.db import Page, Repository
from shared.db.base import utcnow

__all__ = ["DeliveryRepository", "WebhookRepository", "lock_due_deliveries"]


class WebhookRepository(Repository[Webhook]):
    model = Webhook
    resource_name = "webhook"
    not_found = WebhookNotFound

    async def active(self) -> list[Webhook]:
        return list(await self.session.scalars(self.scoped().where(Webhook.active.is_(True))))


class DeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery
    resource_name = "webhook delivery"

    async def of_webhook(self, webhook_id: str, *, offset: int, limit: int) -> Page[WebhookDelivery]:
        return await self.list(WebhookDelivery.webhook_id == webhook_id, offset=offset, limit=limit)


async def lock_due_deliveries(
    session: AsyncSession, limit: int = 20
) -> list[tuple[WebhookDelivery, Webhook]]:
    """The due deliveries of every tenant with their webhooks, earliest first, locked for this transaction
    (other gateway replicas skip them)."""
    rows = await session.execute(
        sa.select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= utcnow())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    return [(delivery, hook) for delivery, hook in rows]
