"""The contract base class and the registry of event types."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["EVENT_TYPE_PATTERN", "EventContract", "contract_for", "registered_contracts"]

# <service>[.<entity>].<verb past tense>.v<N>: the entity may be omitted when it is the service's own
# resource (dataset.created.v1).
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$")

_REGISTRY: dict[str, type[EventContract]] = {}


class EventContract(BaseModel):
    """Base of every event payload. Subclasses declare ``event_type`` and their fields.

    Unknown fields are kept on read (``extra="allow"``) so an older consumer tolerates additive
    changes from a newer producer of the same version.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:
            return  # an abstract intermediate class
        if not EVENT_TYPE_PATTERN.match(event_type):
            raise ValueError(f"event type {event_type!r} is not <service>.<entity>.<verb>.v<N>")
        existing = _REGISTRY.get(event_type)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {event_type!r} already registered by {existing.__qualname__}")
        _REGISTRY[event_type] = cls


def contract_for(event_type: str) -> type[EventContract] | None:
    return _REGISTRY.get(event_type)


def registered_contracts() -> dict[str, type[EventContract]]:
    return dict(sorted(_REGISTRY.items()))
