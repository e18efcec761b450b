"""Transactional outbox: events are rows written with the change, published later by a relay.

A rolled-back transaction leaves no row, so no event escapes for a change that did not happen. The
relay publishes pending rows with broker confirms and marks them; if it dies between the publish and
the mark, the row is published again on the next run, and the consumers' inbox absorbs the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import utcnow
from shared.db.engine import Database
from shared.db.hooks import after_commit
from shared.events.base import EventContract
from shared.logging import get_logger
from shared.messaging.envelope import Envelope, make_envelope
from shared.messaging.transport import OutgoingMessage, Transport

__all__ = ["Outbox", "OutboxRelay"]

log = get_logger(__name__)


class Outbox:
    """Writes events into a service's ``outbox`` table inside the caller's transaction.

    ``publishes`` (the service definition's list) are the contracts it may write: another one is a
    programming error, so the list the AsyncAPI document shows cannot fall behind the code.
    """

    def __init__(
        self, table: sa.Table, source: str, publishes: Collection[type[EventContract]] | None = None
    ) -> None:
        self.table = table
        self.source = source
        self.publishes = None if publishes is None else frozenset(c.event_type for c in publishes)
        self._commit_listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a transaction that added events commits (wakes the relay)."""
        self._commit_listeners.append(listener)

    async def add(
        self,
        session: AsyncSession,
        event: EventContract,
        *,
        subject: str | None = None,
        tenant_id: str | None = None,
    ) -> Envelope[dict[str, Any]]:
        if self.publishes is not None and event.event_type not in self.publishes:
            raise TypeError(f"{event.event_type} is not among the events {self.source} declares it publishes")
        envelope = make_envelope(event, source=self.source, subject=subject, tenant_id=tenant_id)
        await session.execute(
            self.table.insert().values(
                event_id=envelope.id,
                event_type=envelope.type,
                tenant_id=envelope.tenantid,
                envelope=envelope.model_dump_json(),
                created_at=utcnow(),
            )
        )
        after_commit(session, self._notify, key=self)
        return envelope

    def _notify(self) -> None:
        for listener in self._commit_listeners:
            listener()


class OutboxRelay:
    """Publishes pending outbox rows in order; one loop per service process."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        transport: Transport,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
    ) -> None:
        self.db, self.outbox, self.transport = db, outbox, transport
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        self._wake = asyncio.Event()
        outbox.on_commit(self._wake.set)

    async def run_once(self) -> int:
        """Publish one batch; returns how many rows were published and marked."""
        table = self.outbox.table
        async with self.db.session() as session:
            stmt = (
                sa.select(
                    table.c.id, table.c.event_id, table.c.event_type, table.c.tenant_id, table.c.envelope
                )
                .where(table.c.published_at.is_(None))
                .order_by(table.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.execute(stmt)).all()
            published = 0
            for row in rows:
                try:
                    await self.transport.publish(self._message(row))
                except Exception as exc:  # noqa: BLE001  # broker down: keep order, record, retry the rest later
                    await self._record_failure(session, row.id, exc)
                    break
                await session.execute(
                    table.update().where(table.c.id == row.id).values(published_at=utcnow())
                )
                published += 1
            return published

    @staticmethod
    def _message(row: Any) -> OutgoingMessage:
        return OutgoingMessage(
            routing_key=row.event_type,
            body=row.envelope.encode(),
            message_id=row.event_id,
            headers={"tenantid": row.tenant_id},
        )

    async def _record_failure(self, session: AsyncSession, row_id: int, exc: Exception) -> None:
        table = self.outbox.table
        log.warning("outbox publish failed", outbox_id=row_id, error=str(exc))
        await session.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(attempts=table.c.attempts + 1, last_error=str(exc)[:2000])
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set: drain, then sleep until woken by a commit or the poll interval."""
        while not stop.is_set():
            self._wake.clear()  # before the drain: a commit during it must wake the next wait
            try:
                published = await self.run_once()
            except Exception as exc:  # noqa: BLE001  # the relay outlives a database or broker hiccup
                log.warning("outbox relay error", error=str(exc))
                published = 0
            if published >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), timeout=self.poll_seconds)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
