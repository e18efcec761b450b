"""Request-scoped context carried through HTTP calls, events and log lines.

A request entering any service binds a request id, a correlation id (shared by everything one user
action causes, across services and events) and, once authenticated, the tenant and subject. Outgoing
HTTP calls and events copy them; consumers restore them from the event envelope.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = [
    "CORRELATION_ID_HEADER",
    "REQUEST_ID_HEADER",
    "RequestContext",
    "bind_context",
    "current_context",
    "log_context",
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
    """A random 32-hex identifier (request ids, event ids, resource ids): 128 bits from the OS's random
    source, as ``uuid.uuid4().hex`` has (less its 6 fixed bits), in a fifth of the time."""
    return os.urandom(16).hex()


def current_context() -> RequestContext:
    return _context.get()


class bind_context:
    """Overlay ``values`` on the current context for the ``with`` block; log lines written inside carry them
    (:func:`log_context`). One context variable set and reset: this runs on every request."""

    __slots__ = ("_token", "_values")

    def __init__(self, **values: str | None) -> None:
        self._values = values

    def __enter__(self) -> RequestContext:
        current = _context.get()
        merged = RequestContext(**{**current.__dict__, **{k: v for k, v in self._values.items() if v}})
        self._token: Token[RequestContext] = _context.set(merged)
        return merged

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        _context.reset(self._token)


def log_context(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current context's ids, tenant and subject on the log line (those set)."""
    for key, value in _context.get().__dict__.items():
        if value is not None:
            event.setdefault(key, value)
    return event
