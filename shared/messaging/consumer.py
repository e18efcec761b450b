"""Consumer runner: typed handlers, inbox idempotency, ack after commit, retry vs dead-letter.

A handler is registered for an event *contract* (``@consumer.handler(VersionPublished)``) and receives the
envelope with ``data`` already validated into that contract (``Envelope[VersionPublished]``), so it reads
typed fields, never ``data.get(...)``. For each delivery: decode the envelope and validate its payload (not
an envelope, or a payload that breaks the contract → dead-letter at once, the validation error as the
reason), then for each handler of its type open a transaction, claim ``(event_id, handler)`` in the inbox
(already there → skip), run the handler, commit. Only when every handler has committed is the message
acked. A transient failure requeues it; once it has been tried ``delivery_limit`` times, or on a
:class:`PermanentFailure` or a 4xx :class:`~shared.errors.ExeMLError`, it is dead-lettered to ``exeml.dlx``
with the error as the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import bind_context
from shared.db.base import utcnow
from shared.db.engine import Database
from shared.errors import ExeMLError
from shared.events.base import EventContract
from shared.logging import get_logger
from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope
from shared.messaging.transport import Delivery, QueueSpec, Subscription, Transport

__all__ = ["EventConsumer", "EventHandler", "HandlerRegistry", "PermanentFailure", "claim_inbox"]

log = get_logger(__name__)

ContractT = TypeVar("ContractT", bound=EventContract)
EventHandler = Callable[[AsyncSession, Envelope[ContractT]], Awaitable[None]]


class PermanentFailure(Exception):
    """Raised by a handler when the event can never be processed: dead-letter it at once."""


async def claim_inbox(session: AsyncSession, inbox: sa.Table, envelope: Envelope[Any], handler: str) -> bool:
    """Record that ``handler`` processes this event; False if it already did (in a committed tx)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(inbox)
        .values(event_id=envelope.id, handler=handler, event_type=envelope.type, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id", "handler"])
        .returning(inbox.c.event_id)  # rowcount is not reliable across drivers for ON CONFLICT
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


def _is_permanent(exc: Exception) -> bool:
    return isinstance(exc, PermanentFailure) or (isinstance(exc, ExeMLError) and exc.status_code < 500)


@dataclass(frozen=True)
class _Registration:
    name: str  # the inbox key: keep it stable, a renamed handler would apply old events again
    contract: type[EventContract]
    fn: EventHandler[Any]


class HandlerRegistry:
    """The handlers of one service by contract, without a connection (what a service consumes, for
    :class:`EventConsumer` and for the AsyncAPI document)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[str, list[_Registration]] = defaultdict(list)
        # The service runtime (outbox, peers, store) for handlers that need more than the session; set by
        # build_runtime once the runtime exists.
        self.runtime: Any = None

    def handler(
        self, contract: type[ContractT], name: str | None = None
    ) -> Callable[[EventHandler[ContractT]], EventHandler[ContractT]]:
        """Decorator registering ``fn(session, envelope)`` for the events of ``contract``; ``envelope.data``
        is a validated ``contract`` instance when ``fn`` runs."""
        if not (
            isinstance(contract, type)
            and issubclass(contract, EventContract)
            and "event_type" in vars(contract)
        ):
            raise TypeError(f"handlers are registered for an event contract class, not {contract!r}")
        others = {r.contract for r in self._handlers.get(contract.event_type, [])} - {contract}
        if others:
            raise TypeError(f"{contract.event_type} already has handlers for another contract: {others}")

        def register(fn: EventHandler[ContractT]) -> EventHandler[ContractT]:
            self._handlers[contract.event_type].append(
                _Registration(name or f"{fn.__module__}.{fn.__qualname__}", contract, fn)
            )
            return fn

        return register

    @property
    def contracts(self) -> list[type[EventContract]]:
        """The contracts this service consumes, by event type."""
        return [regs[0].contract for _, regs in sorted(self._handlers.items()) if regs]


class EventConsumer(HandlerRegistry):
    """The handlers of one service, bound to one durable queue ``<service>.events``."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        inbox: sa.Table,
        transport: Transport,
        queue: str | None = None,
        delivery_limit: int = 5,
        prefetch: int = 16,
    ) -> None:
        super().__init__(service)
        self.db, self.inbox, self.transport = db, inbox, transport
        self.queue = queue or f"{service}.events"
        self.delivery_limit, self.prefetch = delivery_limit, prefetch
        self._subscription: Subscription | None = None

    @property
    def queue_spec(self) -> QueueSpec:
        return QueueSpec(self.queue, tuple(sorted(self._handlers)), self.delivery_limit)

    async def start(self) -> None:
        if not self._handlers:
            return
        await self.transport.declare_queue(self.queue_spec)
        self._subscription = await self.transport.consume(self.queue, self.handle_delivery, self.prefetch)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    async def handle_delivery(self, delivery: Delivery) -> None:
        try:
            raw = decode_envelope(delivery.body, check_payload=False)
            registrations = self._handlers.get(raw.type, [])
            envelope = raw.typed(registrations[0].contract) if registrations else raw
        except EnvelopeError as exc:
            log.error(
                "dead-lettering an invalid event",
                queue=self.queue,
                message_id=delivery.message_id,
                error=str(exc),
            )
            await delivery.dead_letter(str(exc))
            return
        with bind_context(tenant_id=envelope.tenantid, correlation_id=envelope.correlationid):
            await self._dispatch(delivery, envelope, registrations)

    async def _dispatch(
        self, delivery: Delivery, envelope: Envelope[Any], registrations: list[_Registration]
    ) -> None:
        try:
            for registration in registrations:
                await self._apply(registration, envelope)
        except Exception as exc:  # noqa: BLE001  # any failure is settled: requeued or dead-lettered
            await self._settle_failure(delivery, envelope, exc)
            return
        await delivery.ack()

    async def _apply(self, registration: _Registration, envelope: Envelope[Any]) -> None:
        async with self.db.session() as session:
            if not await claim_inbox(session, self.inbox, envelope, registration.name):
                log.info("event already processed", event_id=envelope.id, handler=registration.name)
                return
            await registration.fn(session, envelope)

    async def _settle_failure(self, delivery: Delivery, envelope: Envelope[Any], exc: Exception) -> None:
        final = _is_permanent(exc) or delivery.attempt >= self.delivery_limit
        log.warning(
            "event handler failed",
            event_id=envelope.id,
            event_type=envelope.type,
            attempt=delivery.attempt,
            dead_lettered=final,
            error=repr(exc),
        )
        if final:
            await delivery.dead_letter(f"handler failed on attempt {delivery.attempt}: {exc!r}")
        else:
            await delivery.requeue()
