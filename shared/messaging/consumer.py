"""Consumer runner: typed handlers, inbox idempotency, ack after commit, retry vs dead-letter.

For each delivery: decode the envelope (undecodable → dead-letter), then for each handler of its type
open a transaction, claim ``(event_id, handler)`` in the inbox (already there → skip), run the handler,
commit. Only when every handler has committed is the message acked. A transient failure requeues it;
once it has been tried ``delivery_limit`` times, or on a :class:`PermanentFailure` or a 4xx
:class:`~shared.errors.ExeMLError`, it is dead-lettered to ``exeml.dlx``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

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

__all__ = ["EventHandler", "EventConsumer", "PermanentFailure", "claim_inbox"]

log = get_logger(__name__)

EventHandler = Callable[[AsyncSession, Envelope[dict[str, Any]]], Awaitable[None]]


class PermanentFailure(Exception):
    """Raised by a handler when the event can never be processed: dead-letter it at once."""


async def claim_inbox(session: AsyncSession, inbox: sa.Table, envelope: Envelope[Any], handler: str) -> bool:
    """Record that ``handler`` processes this event; False if it already did (in a committed tx)."""
    dialect = session.bind.dialect.name
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


class EventConsumer:
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
        self.service, self.db, self.inbox, self.transport = service, db, inbox, transport
        self.queue = queue or f"{service}.events"
        self.delivery_limit, self.prefetch = delivery_limit, prefetch
        self._handlers: dict[str, list[tuple[str, EventHandler]]] = defaultdict(list)
        self._subscription: Subscription | None = None
        # The service runtime (outbox, peers, store) for handlers that need more than the session; set by
        # build_runtime once the runtime exists.
        self.runtime: Any = None

    def handler(self, event: str | type[EventContract], name: str | None = None):
        """Decorator registering ``fn(session, envelope)`` for an event type (a contract or its name)."""
        event_type = event if isinstance(event, str) else event.event_type

        def register(fn: EventHandler) -> EventHandler:
            self._handlers[event_type].append((name or f"{fn.__module__}.{fn.__qualname__}", fn))
            return fn

        return register

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
            envelope = decode_envelope(delivery.body)
        except EnvelopeError as exc:
            log.error("dead-lettering undecodable message", queue=self.queue, error=str(exc))
            await delivery.dead_letter()
            return
        with bind_context(tenant_id=envelope.tenantid, correlation_id=envelope.correlationid):
            await self._dispatch(delivery, envelope)

    async def _dispatch(self, delivery: Delivery, envelope: Envelope[dict[str, Any]]) -> None:
        try:
            for name, fn in self._handlers.get(envelope.type, []):
                await self._apply(name, fn, envelope)
        except Exception as exc:
            await self._settle_failure(delivery, envelope, exc)
            return
        await delivery.ack()

    async def _apply(self, name: str, fn: EventHandler, envelope: Envelope[dict[str, Any]]) -> None:
        async with self.db.session() as session:
            if not await claim_inbox(session, self.inbox, envelope, name):
                log.info("event already processed", event_id=envelope.id, handler=name)
                return
            await fn(session, envelope)

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
        await (delivery.dead_letter() if final else delivery.requeue())
