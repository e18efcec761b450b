"""What the sync and the async client share: a call described once (route, body, model, idempotent or not),
how its answer is read, which failures are retried, and how a list is paged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from tenacity import retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from exeml_client.errors import APIError, TransportError, error_from_response
from exeml_client.models import Page

__all__ = ["ROUTES", "Call", "Listing", "Route", "retry_policy", "route"]

T = TypeVar("T")
_IDEMPOTENT_METHODS = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
_RETRY_STATUSES = {429, 502, 503, 504}


class Route(NamedTuple):
    """An operation: method, path template and the model of its answer (of each item, for a paged list)."""

    method: str
    template: str
    answer: Any = None
    paged: bool = False

    def path(self, ids: dict[str, str]) -> str:
        return self.template.format(**{k: quote(str(v), safe="") for k, v in ids.items()})


ROUTES: list[Route] = []  # every operation the client calls (a test checks each is in /openapi.json)


def route(method: str, template: str, answer: Any = None, *, paged: bool = False) -> Route:
    ROUTES.append(Route(method, template, answer, paged))
    return ROUTES[-1]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request; its answer is read as the route's model (``None``: no body; ``bytes``: the raw content)."""

    route: Route
    ids: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    json: Any = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    headers: dict[str, str] | None = None
    idempotent: bool | None = None  # None: by the method (GET, PUT, DELETE are)

    @property
    def retry_safe(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.route.method in _IDEMPOTENT_METHODS

    def request(self) -> dict[str, Any]:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        return {
            "method": self.route.method,
            "url": self.route.path(self.ids),
            "params": params or None,
            "json": self.json,
            "files": self.files,
            "headers": self.headers,
        }

    def parse(self, response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise error_from_response(response)
        answer = Page[self.route.answer] if self.route.paged else self.route.answer  # type: ignore[name-defined]  # a route-chosen model
        if answer is None:
            return None  # type: ignore[return-value]  # T is None for routes that answer nothing
        if answer is bytes:
            return response.content  # type: ignore[return-value]  # T is bytes for download routes
        return TypeAdapter(answer).validate_python(response.json())


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A list endpoint walked page by page (``offset``/``limit``, ``{"items", "total"}``)."""

    route: Route
    ids: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    page_size: int = 100

    def page(self, offset: int) -> Call[Page[T]]:
        return Call(self.route, self.ids, {**self.params, "offset": offset, "limit": self.page_size})

    @staticmethod
    def next_offset(offset: int, page: Page[Any]) -> int | None:
        """Where the next page starts, or ``None`` after the last (an empty page ends it too)."""
        following = offset + len(page.items)
        return following if page.items and following < page.total else None


def _retryable(call: Call[Any]) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if isinstance(exc, httpx.ConnectError):
            return True  # the request never left: safe to send again whatever it does
        if not call.retry_safe:
            return False
        if isinstance(exc, httpx.TransportError):
            return True
        return isinstance(exc, APIError) and exc.status_code in _RETRY_STATUSES

    return check


def retry_policy(call: Call[Any], max_retries: int) -> dict[str, Any]:
    """tenacity's arguments for ``call``: backoff with jitter, only where sending twice is harmless."""
    return {
        "retry": retry_if_exception(_retryable(call)),
        "stop": stop_after_attempt(max_retries + 1),
        "wait": wait_exponential(multiplier=0.5, max=8) + wait_random(0, 0.5),
        "reraise": True,
    }


def transport_error(exc: httpx.TransportError, base_url: str) -> TransportError:
    return TransportError(f"cannot reach {base_url}: {exc!r}")
