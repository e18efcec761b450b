"""Handlers of the events the gateway reacts to: fan-out to webhooks and SSE streams, and revoked API keys
dropped from the cache of verified keys."""

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.hub import EventHub
from gateway.verified_keys import VerifiedKeys
from gateway.webhooks.service import WebhookService
from shared.events import EventContract, registered_contracts
from shared.events.gateway import ApiKeyRevoked
from shared.messaging import Envelope, HandlerRegistry


def register_consumers(consumer: HandlerRegistry) -> None:
    """Bind the gateway's queue to every event type: each event becomes the deliveries of the tenant's matching
    webhooks (in the inbox's transaction), then goes to the tenant's open streams."""

    async def fan_out(session: AsyncSession, envelope: Envelope[EventContract]) -> None:
        await WebhookService(session, consumer.runtime, envelope.tenantid).enqueue(envelope)
        consumer.runtime.component(EventHub).publish(envelope)

    for contract in registered_contracts().values():
        consumer.handler(contract, name="gateway.fan_out")(fan_out)

    @consumer.handler(ApiKeyRevoked, name="gateway.drop_revoked_key")
    async def drop_revoked_key(_session: AsyncSession, envelope: Envelope[ApiKeyRevoked]) -> None:
        """A key revoked by another gateway process is refused here from now on, although it was cached."""
        consumer.runtime.component(VerifiedKeys).revoke(envelope.data.key_id)
