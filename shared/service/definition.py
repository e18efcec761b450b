"""What a service tells the shared runtime about itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from fastapi import APIRouter

from shared.messaging.consumer import EventConsumer
from shared.messaging.tables import MessagingTables
from shared.settings import ServiceSettings

__all__ = ["ServiceDefinition"]


def _no_consumers(_consumer: EventConsumer) -> None:
    return None


@dataclass(frozen=True)
class ServiceDefinition:
    """One service: its name, settings class, tables, routers and event handlers.

    ``routers`` and ``register_consumers`` are called when an app or worker is built, so importing a
    definition stays cheap.
    """

    name: str
    title: str
    description: str
    settings_cls: type[ServiceSettings]
    metadata: sa.MetaData
    messaging: MessagingTables
    routers: Callable[[], Sequence[APIRouter]] = field(default=lambda: ())
    register_consumers: Callable[[EventConsumer], None] = _no_consumers
