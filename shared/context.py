"""Request-scoped context carried through HTTP calls, events and log lines.

A request entering any service binds a request id, a correlation id (shared by everything one user
action causes, across services and events) and, once authenticated, the tenant and subject. Outgoing
HTTP calls and events copy them; consumers restore them from the event envelope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import structlog

__all__ = [
    "CORRELATION_ID_HEADER",
    "REQUEST_ID_HEADER",
    "RequestContext",
    "bind_context",
    "current_context",
    "new_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    correlation_id: str | None = None
    tenant_id: str | None = None
    subject: str | None = None


_context: ContextVar[RequestContext] = ContextVar("exeml_context", default=RequestContext())  # noqa: B039  # frozen


def new_id() -> str:
    """A random 32-hex identifier (request ids, event ids, resource ids)."""
    return uuid.uuid4().hex


def current_context() -> RequestContext:
    return _context.get()


@contextmanager
def bind_context(**values: str | None) -> Iterator[RequestContext]:
    """Overlay ``values`` on the current context (and the log context) for the ``with`` block."""
    merged = RequestContext(**{**current_context().__dict__, **{k: v for k, v in values.items() if v}})
    token = _context.set(merged)
    log_token = structlog.contextvars.bind_contextvars(
        **{k: v for k, v in merged.__dict__.items() if v is not None}
    )
    try:
        yield merged
    finally:
        structlog.contextvars.reset_contextvars(**log_token)
        _context.reset(token)
