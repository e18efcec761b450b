"""Fixtures for the bus: the same tests run against real RabbitMQ and the in-memory transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import aio_pika
import pytest
import sqlalchemy as sa

from shared.events import EventContract
from shared.messaging import (
    Envelope,
    InMemoryBroker,
    InMemoryTransport,
    OutgoingMessage,
    QueueSpec,
    RabbitMQTransport,
    Transport,
    make_envelope,
)
from shared.service import ServiceRuntime
from shared.testing.infra import AMQP_URL, require_tcp

__all__ = ["delete_queues", "outbox_envelopes", "publish_event", "transport_factory"]


@pytest.fixture(params=["rabbitmq", "memory"])
async def transport_factory(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], Awaitable[Transport]]]:
    """Makes connected transports to one broker (several "connections" for crash tests)."""
    if request.param == "rabbitmq":
        parsed = urlparse(AMQP_URL)
        require_tcp("RabbitMQ", parsed.hostname or "127.0.0.1", parsed.port or 5672)
    broker = InMemoryBroker()
    opened: list[Transport] = []
    declared: set[str] = set()

    async def make() -> Transport:
        transport = RabbitMQTransport(AMQP_URL) if request.param == "rabbitmq" else InMemoryTransport(broker)
        await transport.connect()
        opened.append(transport)
        declare = transport.declare_queue

        async def recording_declare(spec: QueueSpec) -> None:
            declared.add(spec.name)
            await declare(spec)

        transport.declare_queue = recording_declare  # type: ignore[method-assign]  # records queues to delete after the test
        return transport

    yield make
    for transport in opened:
        await transport.close()
    if request.param == "rabbitmq" and declared:
        await delete_queues(sorted(declared))


async def delete_queues(names: list[str], exchanges: Sequence[str] = ()) -> None:
    """Delete test queues and their dead-letter queues (and ``exchanges``): a broker full of leftover quorum
    queues slows down (and on two cores, stalls) every later run."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for name in names:
            for queue in (name, f"{name}.dlq"):
                await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


async def publish_event(
    transport: Transport,
    event: EventContract,
    *,
    tenant_id: str,
    source: str = "/exeml/test",
    envelope: Envelope[Any] | None = None,
) -> Envelope[Any]:
    """Put an event on the bus as another service's relay would (``envelope`` again: a redelivery);
    returns the envelope."""
    envelope = envelope or make_envelope(event, source=source, tenant_id=tenant_id)
    await transport.publish(
        OutgoingMessage(
            routing_key=envelope.type,
            body=envelope.to_bytes(),
            message_id=envelope.id,
            headers={"tenantid": tenant_id},
        )
    )
    return envelope


async def outbox_envelopes(runtime: ServiceRuntime[Any], event_type: str) -> list[dict[str, Any]]:
    """The envelopes (CloudEvents objects, ``data`` inside) of ``event_type`` that the service of ``runtime``
    wrote to its outbox, oldest first."""
    outbox = runtime.outbox.table
    async with runtime.db.session() as session:
        rows = await session.execute(
            sa.select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(envelope) for envelope in rows.scalars()]
