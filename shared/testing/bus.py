"""Fixtures for the bus: the same tests run against real RabbitMQ and the in-memory transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlparse

import pytest

from shared.messaging import InMemoryBroker, InMemoryTransport, RabbitMQTransport, Transport
from shared.testing.infra import AMQP_URL, require_tcp

__all__ = ["transport_factory"]


@pytest.fixture(params=["rabbitmq", "memory"])
async def transport_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Transport]]:
    """Makes connected transports to one broker (several "connections" for crash tests)."""
    if request.param == "rabbitmq":
        parsed = urlparse(AMQP_URL)
        require_tcp("RabbitMQ", parsed.hostname or "127.0.0.1", parsed.port or 5672)
    broker = InMemoryBroker()
    opened: list[Transport] = []

    async def make() -> Transport:
        transport = RabbitMQTransport(AMQP_URL) if request.param == "rabbitmq" else InMemoryTransport(broker)
        await transport.connect()
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        await transport.close()
