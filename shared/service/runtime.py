"""The live resources of one service: database, object store, bus, outbox relay, consumers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from shared.auth import TokenCodec
from shared.db import migrations
from shared.db.engine import Database
from shared.logging import get_logger
from shared.messaging.consumer import EventConsumer
from shared.messaging.memory import InMemoryBroker, InMemoryTransport
from shared.messaging.outbox import Outbox, OutboxRelay
from shared.messaging.rabbitmq import RabbitMQTransport
from shared.messaging.transport import Transport
from shared.service.definition import ServiceDefinition
from shared.service.peers import Peers
from shared.settings import ServiceSettings
from shared.storage import ObjectStore, object_store_from_settings
from shared.storage.tenancy import StoragePolicy, TenantStorage

__all__ = ["ServiceRuntime", "build_runtime", "transport_from_settings"]

log = get_logger(__name__)
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
ComponentT = TypeVar("ComponentT")


def transport_from_settings(settings: ServiceSettings, broker: InMemoryBroker | None = None) -> Transport:
    if settings.bus == "rabbitmq":
        assert settings.amqp_url is not None
        return RabbitMQTransport(settings.amqp_url, namespace=settings.bus_namespace)
    return InMemoryTransport(broker)


@dataclass(eq=False)
class ServiceRuntime(Generic[SettingsT]):
    """Everything a service's routes and workers use; started once per process. Typed by the service's
    settings class: ``ServiceRuntime[Settings]`` in a service's code reads its own settings' fields."""

    definition: ServiceDefinition[SettingsT]
    settings: SettingsT
    db: Database
    store: ObjectStore
    transport: Transport
    outbox: Outbox
    token_codec: TokenCodec
    relay: OutboxRelay
    consumer: EventConsumer
    peers: Peers
    storage_policy: StoragePolicy
    # A service's own live objects, set by its lifespan (untyped: prefer component(Kind)).
    state: dict[str, Any] = field(default_factory=dict)
    _components: dict[type[Any], Any] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _lifespan: contextlib.AsyncExitStack | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _connected: bool = False

    def component(self, kind: type[ComponentT]) -> ComponentT:
        """This runtime's one object of class ``kind``, made by ``kind()`` on first use: the typed way for a
        service to keep a live in-process object (the gateway's event hub) that its routes and consumers share."""
        if kind not in self._components:
            self._components[kind] = kind()
        found: ComponentT = self._components[kind]
        return found

    def tenant_storage(self, tenant_id: str) -> TenantStorage:
        """The object store as ``tenant_id`` may use it: the one way to reach a path a user supplied."""
        return TenantStorage(self.store, self.storage_policy, tenant_id)

    async def migrate(self) -> None:
        """Bring the schema to head (embedded mode and tests; compose runs a one-shot container)."""
        await asyncio.to_thread(migrations.upgrade, self.definition.name, self.settings)

    async def start(self, *, background: bool) -> None:
        """Connect; with ``background`` also run the outbox relay and the event consumers."""
        await self.store.ensure_bucket(self.store.default_bucket)
        if self.definition.lifespan is not None:  # before the loops: they may use what it starts
            self._lifespan = contextlib.AsyncExitStack()
            await self._lifespan.enter_async_context(self.definition.lifespan(self, background))
        if background:
            await self.transport.connect()
            self._connected = True
            self._stop.clear()
            self._tasks.append(
                asyncio.create_task(self.relay.run(self._stop), name=f"{self.definition.name}-relay")
            )
            await self.consumer.start()
            for loop in self.definition.background_loops():
                name = f"{self.definition.name}-{getattr(loop, '__name__', 'loop')}"
                self._tasks.append(asyncio.create_task(loop(self, self._stop), name=name))
        log.info("service runtime started", service=self.definition.name, background=background)

    async def stop(self) -> None:
        self._stop.set()
        await self.consumer.stop()
        await self.peers.aclose()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)
        self._tasks.clear()
        if self._connected:
            await self.transport.close()
            self._connected = False
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.aclose()
        await self.db.dispose()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: ``ok`` or the error text."""
        checks: dict[str, str] = {}
        checks["database"] = await _check(self.db.ping())
        checks["storage"] = await _check(
            self.store.exists(self.store.uri(self.store.default_bucket, "readyz"))
        )
        if self._connected:
            checks["bus"] = await _check(self.transport.ping())
        return checks


async def _check(awaitable: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(awaitable, timeout=5)
    except Exception as exc:  # noqa: BLE001  # readiness reports, it does not raise
        return f"error: {exc!r}"[:300]
    return "ok"


def build_runtime(
    definition: ServiceDefinition[SettingsT],
    settings: SettingsT | None = None,
    *,
    broker: InMemoryBroker | None = None,
) -> ServiceRuntime[SettingsT]:
    """Wire a service's resources from its settings (nothing connects until ``start``)."""
    settings = settings or definition.settings_cls()
    secret = settings.ensure_token_secret()
    assert settings.database_url is not None
    db = Database(settings.database_url, settings.db_schema, echo=settings.db_echo)
    transport = transport_from_settings(settings, broker)
    outbox = Outbox(
        definition.messaging.outbox, source=f"/exeml/{definition.name}", publishes=definition.publishes
    )
    consumer = EventConsumer(
        service=definition.name,
        db=db,
        inbox=definition.messaging.inbox,
        transport=transport,
        queue=settings.bus_queue(f"{definition.name}.events"),
        delivery_limit=settings.bus_delivery_limit,
        prefetch=settings.bus_prefetch,
    )
    definition.register_consumers(consumer)
    token_codec = TokenCodec(secret.get_secret_value(), settings.internal_token_ttl_seconds)
    runtime = ServiceRuntime(
        definition=definition,
        settings=settings,
        db=db,
        store=object_store_from_settings(settings),
        transport=transport,
        outbox=outbox,
        token_codec=token_codec,
        relay=OutboxRelay(db, outbox, transport, poll_seconds=settings.outbox_poll_seconds),
        consumer=consumer,
        peers=Peers(definition.name, settings, token_codec),
        storage_policy=StoragePolicy.from_settings(settings),
    )
    consumer.runtime = runtime
    return runtime
