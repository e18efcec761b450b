"""Work to do once a transaction has committed: wake the outbox relay, start a task that reads the new row.

The one after-commit hook of the platform. SQLAlchemy's own ``after_commit`` event also fires when a
savepoint (``begin_nested``) is released, and a listener added with ``once=True`` survives a rollback and
fires at the next commit of the session; :func:`after_commit` runs its callbacks at the commit of the outer
transaction only, and forgets them when it rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["after_commit"]

_PENDING = "exeml.after_commit"


def after_commit(
    session: AsyncSession | Session, callback: Callable[[], object], *, key: Hashable | None = None
) -> None:
    """Call ``callback()`` once the current transaction of ``session`` has committed; never if it rolls back.

    ``key`` deduplicates: one callback per key and transaction (the outbox wakes its relay once, not once
    per event). Callbacks run in the committing thread, in the order they were added; they must be quick and
    must not raise (schedule real work on the event loop). A savepoint rolled back keeps them: they must be
    harmless when nothing of theirs committed (a wake-up, a runner that claims its row first).
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not sa_event.contains(sync, "after_commit", _run_pending):
        sa_event.listen(sync, "after_commit", _run_pending)
        sa_event.listen(sync, "after_rollback", _drop_pending)
    pending: dict[Hashable, Callable[[], object]] = sync.info.setdefault(_PENDING, {})
    pending.setdefault(key if key is not None else object(), callback)


def _run_pending(sync: Session) -> None:
    if sync.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    for callback in sync.info.pop(_PENDING, {}).values():
        callback()


def _drop_pending(sync: Any) -> None:
    if not sync.in_nested_transaction():
        sync.info.pop(_PENDING, None)
