"""What a service tells the shared runtime about itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from shared.messaging.consumer import EventConsumer
from shared.messaging.tables import MessagingTables
from shared.settings import ServiceSettings

__all__ = ["BackgroundLoop", "ServiceDefinition"]


def _no_consumers(_consumer: EventConsumer) -> None:
    return None


# A loop the runtime runs beside the relay and consumers (a sweeper, a scheduler, a delivery loop): it gets
# the runtime and an event that is set at shutdown, and must return soon after.
BackgroundLoop = Callable[[Any, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class ServiceDefinition:
    """One service: its name, settings class, tables, routers and event handlers.

    ``routers`` and ``register_consumers`` are called when an app or worker is built, so importing a
    definition stays cheap. ``lifespan(runtime, background)``, if given, is entered when the runtime starts
    and left when it stops: a service's own resources and loops (a child server, a scheduler), with
    ``background`` telling whether this process also runs the relay and consumers.
    """

    name: str
    title: str
    description: str
    settings_cls: type[ServiceSettings]
    metadata: sa.MetaData
    messaging: MessagingTables
    routers: Callable[[], Sequence[APIRouter]] = field(default=lambda: ())
    register_consumers: Callable[[EventConsumer], None] = _no_consumers
    lifespan: Callable[[Any, bool], AbstractAsyncContextManager[None]] | None = None
    background_loops: Callable[[], Sequence[BackgroundLoop]] = field(default=lambda: ())
