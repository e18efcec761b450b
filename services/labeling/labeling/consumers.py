"""Handlers of other services' events that the labeling service reacts to."""

from shared.messaging import EventConsumer


def register_consumers(consumer: EventConsumer) -> None:
    """Attach this service's event handlers to ``consumer`` (none yet)."""
