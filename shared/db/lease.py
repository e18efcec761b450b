"""Leases on rows: long work is state, held by one worker at a time (ADR 0009).

A table that has long-running work on its rows (a training job, a service being rolled out on Triton, an
import task) keeps a lease on each row: who holds it (``holder``) and until when (``expires_at``). Every
operation is one guarded ``UPDATE``, so two workers can never both hold a row:

* :meth:`Leases.claim` succeeds only while the lease is free (never taken, released, or expired) and the
  caller's own conditions hold (a status, an attempt count);
* :meth:`Leases.renew` (the heartbeat) and :meth:`Leases.release` succeed only for the holder, before expiry
  (a late heartbeat never revives a lease someone else may have taken);
* :meth:`Leases.held_by` is the guard for the holder's other writes;
* :meth:`Leases.lock_expired` finds the rows whose holder stopped renewing, for a sweeper to take over.

:func:`keep_lease` renews a lease in the background while a block of work runs and cancels the block,
raising :class:`LeaseLost`, once a renewal finds the lease gone. Safety assumes the workers' clocks agree
to well within a lease period (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.context import new_id
from shared.db.base import UTCDateTime, utcnow
from shared.db.engine import Database
from shared.logging import get_logger

__all__ = ["LeaseLost", "LeaseMixin", "Leases", "holder_name", "keep_lease"]

log = get_logger(__name__)


class LeaseLost(Exception):
    """The lease expired or was taken over while its holder was still working."""


class LeaseMixin:
    """The lease columns of a table whose rows get long work (``Leases(Model)`` uses them by default)."""

    lease_holder: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def holder_name(prefix: str = "") -> str:
    """A holder id unique to this process and call: ``[prefix:]host:pid:random``."""
    return ":".join(p for p in (prefix, socket.gethostname()[:60], str(os.getpid()), new_id()[:8]) if p)


class Leases:
    """The lease operations on one mapped table; ``holder``/``expires_at`` name its lease columns."""

    def __init__(
        self, model: Any, *, holder: str = "lease_holder", expires_at: str = "lease_expires_at"
    ) -> None:
        self.model = model
        self.id = model.id
        self.holder = getattr(model, holder)
        self.expires_at = getattr(model, expires_at)

    def free(self, now: datetime) -> sa.ColumnElement[bool]:
        """Nobody holds the row: never taken, released, or expired."""
        return sa.or_(self.expires_at.is_(None), self.expires_at < now)

    def held_by(self, holder: str, now: datetime) -> sa.ColumnElement[bool]:
        """``holder`` holds the row and its lease has not expired."""
        return sa.and_(self.holder == holder, self.expires_at >= now)

    def expired(self, now: datetime) -> sa.ColumnElement[bool]:
        """The lease was taken and ran out (its holder stopped renewing); never-taken rows do not count."""
        return sa.and_(self.expires_at.is_not(None), self.expires_at < now)

    async def lock_expired(
        self, session: AsyncSession, *, where: Iterable[sa.ColumnElement[bool]] = (), limit: int = 50
    ) -> list[Any]:
        """Up to ``limit`` rows whose lease expired and ``where`` holds, oldest expiry first, locked for this
        transaction (``FOR UPDATE SKIP LOCKED``: two sweepers never take the same row)."""
        stmt = (
            sa.select(self.model)
            .where(self.expired(utcnow()), *where)
            .order_by(self.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return list((await session.execute(stmt)).scalars())

    async def claim(
        self,
        session: AsyncSession,
        row_id: str,
        holder: str,
        seconds: float,
        *,
        where: Iterable[sa.ColumnElement[bool]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Take the row's lease for ``seconds`` if it is free and ``where`` holds; also set ``values``."""
        now = utcnow()
        lease = self._lease_values(holder, now + timedelta(seconds=seconds), values)
        return await self._update(session, row_id, [self.free(now), *where], lease) is not None

    async def renew(
        self,
        session: AsyncSession,
        row_id: str,
        holder: str,
        seconds: float,
        *,
        where: Iterable[sa.ColumnElement[bool]] = (),
        values: Mapping[str, Any] | None = None,
        returning: Any = None,
    ) -> Any:
        """Extend the holder's lease by ``seconds`` from now (and set ``values``); the ``returning`` column's
        value (default the id), or None when the lease is lost."""
        now = utcnow()
        lease = self._lease_values(holder, now + timedelta(seconds=seconds), values)
        return await self._update(session, row_id, [self.held_by(holder, now), *where], lease, returning)

    async def release(
        self, session: AsyncSession, row_id: str, holder: str, *, values: Mapping[str, Any] | None = None
    ) -> bool:
        """Give the lease back (the row is free at once); False if ``holder`` no longer held it."""
        freed = {self.holder.key: None, self.expires_at.key: None, **(values or {})}
        return await self._update(session, row_id, [self.held_by(holder, utcnow())], freed) is not None

    def _lease_values(self, holder: str, until: datetime, values: Mapping[str, Any] | None) -> dict[str, Any]:
        return {self.holder.key: holder, self.expires_at.key: until, **(values or {})}

    async def _update(
        self,
        session: AsyncSession,
        row_id: str,
        where: list[sa.ColumnElement[bool]],
        values: dict[str, Any],
        returning: Any = None,
    ) -> Any:
        stmt = (
            sa.update(self.model)
            .where(self.id == row_id, *where)
            .values(**values)
            .returning(self.id if returning is None else returning)
            .execution_options(synchronize_session=False)
        )
        return (await session.execute(stmt)).scalar_one_or_none()


@contextlib.asynccontextmanager
async def keep_lease(
    db: Database, leases: Leases, row_id: str, holder: str, seconds: float, *, every: float | None = None
) -> AsyncIterator[None]:
    """Renew ``holder``'s lease on ``row_id`` every ``every`` seconds (default a fifth of ``seconds``) while
    the block runs; when a renewal finds the lease lost, cancel the block and raise :class:`LeaseLost`.

    A renewal that fails on a database error is retried at the next beat: the lease only lapses if the
    database stays unreachable for most of a lease period.
    """
    work = asyncio.current_task()
    assert work is not None
    lost = asyncio.Event()

    async def beat() -> None:
        while True:
            await asyncio.sleep(every if every is not None else max(seconds / 5, 0.05))
            try:
                async with db.session() as session:
                    held = await leases.renew(session, row_id, holder, seconds)
            except Exception as exc:  # noqa: BLE001 - a database hiccup: the next beat tries again
                log.warning("lease renewal failed", row_id=row_id, holder=holder, error=repr(exc))
                continue
            if held is None:
                log.warning("lease lost: work cancelled", row_id=row_id, holder=holder)
                lost.set()
                work.cancel()
                return

    beater = asyncio.create_task(beat(), name=f"lease-{row_id}")
    try:
        yield
    except asyncio.CancelledError:
        if lost.is_set() and work.uncancel() == 0:  # our cancel, not a shutdown's
            raise LeaseLost(f"lease on {row_id} lost by {holder}") from None
        raise
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater
