"""Handlers of other services' events that the inference service reacts to."""

from shared.messaging import HandlerRegistry


def register_consumers(consumer: HandlerRegistry) -> None:
    """Attach this service's event handlers to ``consumer`` (none yet)."""
