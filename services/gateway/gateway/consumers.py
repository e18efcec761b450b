"""Handlers of other services' events that the gateway reacts to: fan-out to SSE streams and webhooks."""

from gateway.events import register_event_fanout
from shared.messaging import EventConsumer


def register_consumers(consumer: EventConsumer) -> None:
    """Bind the gateway's queue to every event type (see :mod:`gateway.events`)."""
    register_event_fanout(consumer)
