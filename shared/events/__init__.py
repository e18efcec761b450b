"""Versioned event contracts: the payload schemas of every event on ``exeml.events``.

An event type is ``<service>.<entity>.<verb past tense>.v<N>`` (``dataset.version.published.v1``). Each
contract is a pydantic model registered under its type; a breaking change gets a new ``vN+1`` contract
and the old one stays until no consumer needs it. ``asyncapi_document()`` documents them for integrators.
"""

# Importing the contract modules registers their event types.
from shared.events import dataset, gateway, inference, labeling, registry, training, workflow  # noqa: F401  # imported to register their types
from shared.events.base import (
    EVENT_TYPE_PATTERN,
    EventContract,
    contract_for,
    registered_contracts,
)

__all__ = ["EVENT_TYPE_PATTERN", "EventContract", "contract_for", "registered_contracts"]
