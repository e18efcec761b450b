"""Handlers of other services' events that the gateway reacts to: fan-out to webhooks and SSE streams."""

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.hub import EventHub
from gateway.webhooks.service import WebhookService
from shared.events import EventContract, registered_contracts
from shared.messaging import Envelope, HandlerRegistry


def register_consumers(consumer: HandlerRegistry) -> None:
    """Bind the gateway's queue to every event type: each event becomes the deliveries of the tenant's matching
    webhooks (in the inbox's transaction), then goes to the tenant's open streams."""

    async def fan_out(session: AsyncSession, envelope: Envelope[EventContract]) -> None:
        await WebhookService(session, consumer.runtime, envelope.tenantid).enqueue(envelope)
        consumer.runtime.component(EventHub).publish(envelope)

    for contract in registered_contracts().values():
        consumer.handler(contract, name="gateway.fan_out")(fan_out)
