"""What a service tells the shared runtime about itself."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI

from shared.events.base import EventContract
from shared.messaging.consumer import HandlerRegistry
from shared.messaging.tables import MessagingTables
from shared.settings import ServiceSettings

__all__ = ["PLATFORM_SERVICES", "BackgroundLoop", "ServiceDefinition", "load_definition", "load_service_app"]

# Every service of the platform, the gateway first (the embedded mode, the tests and the AsyncAPI document
# load them by name: each is the package ``<name>`` with ``definition.SERVICE`` and ``app.create_app``).
PLATFORM_SERVICES = ("gateway", "dataset", "labeling", "trainer", "registry", "inference", "workflow")


def _no_consumers(_consumer: HandlerRegistry) -> None:
    return None


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

# A loop the runtime runs beside the relay and consumers (a sweeper, a scheduler, a delivery loop): it gets
# the runtime and an event that is set at shutdown, and must return soon after.
BackgroundLoop = Callable[[Any, asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ServiceDefinition(Generic[SettingsT]):
    """One service: its name, settings class, tables, routers, the events it consumes and publishes.

    ``publishes`` are the event contracts its outbox may write (the outbox refuses others);
    ``register_consumers`` registers its handlers, by contract. Both feed the AsyncAPI document.
    ``routers`` and ``register_consumers`` are called when an app or worker is built, so importing a
    definition stays cheap. ``lifespan(runtime, background)``, if given, is entered when the runtime starts
    and left when it stops: a service's own resources and loops (a child server, a scheduler), with
    ``background`` telling whether this process also runs the relay and consumers.
    """

    name: str
    title: str
    description: str
    settings_cls: type[SettingsT]
    metadata: sa.MetaData
    messaging: MessagingTables
    routers: Callable[[], Sequence[APIRouter]] = field(default=lambda: ())
    register_consumers: Callable[[HandlerRegistry], None] = _no_consumers
    publishes: tuple[type[EventContract], ...] = ()
    lifespan: Callable[[Any, bool], AbstractAsyncContextManager[None]] | None = None
    background_loops: Callable[[], Sequence[BackgroundLoop]] = field(default=lambda: ())

    def consumes(self) -> list[type[EventContract]]:
        """The event contracts this service's handlers consume."""
        registry = HandlerRegistry(self.name)
        self.register_consumers(registry)
        return registry.contracts


def load_definition(name: str) -> ServiceDefinition[Any]:
    """The definition of service ``name`` (``<name>.definition.SERVICE``)."""
    definition: ServiceDefinition[Any] = importlib.import_module(f"{name}.definition").SERVICE
    return definition


def load_service_app(name: str, runtime: Any) -> FastAPI:
    """The FastAPI app of service ``name`` on ``runtime`` (``<name>.app.create_app``)."""
    app: FastAPI = importlib.import_module(f"{name}.app").create_app(runtime=runtime)
    return app
