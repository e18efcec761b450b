"""Transactions PostgreSQL aborts for a conflict with another one are retried, as its documentation advises.

A deadlock (SQLSTATE ``40P01``) or a serialization failure (``40001``) ends one of the transactions
involved; the other commits. Nothing of the aborted one was written, so running the same unit of work again
is the expected answer (PostgreSQL manual, "Serialization Failure Handling"). Lock rows in one order to make
deadlocks rare; :func:`retry_conflicts` makes the rare one harmless.
"""

from __future__ import annotations

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

__all__ = ["CONFLICT_STATES", "is_conflict", "retry_conflicts"]

CONFLICT_STATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy error or the driver's, or one caused by them) is such a conflict."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            if getattr(candidate, "sqlstate", None) in CONFLICT_STATES:
                return True
        current = current.__cause__ or current.__context__
    return False


def retry_conflicts(attempts: int = 5) -> AsyncRetrying:
    """``async for attempt in retry_conflicts(): with attempt: await unit_of_work()`` — each attempt in its
    own transaction(s); after ``attempts`` conflicts the last one is raised."""
    return AsyncRetrying(
        retry=retry_if_exception(is_conflict),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        reraise=True,
    )
