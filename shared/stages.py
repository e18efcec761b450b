"""Where the milliseconds of a request go: named spans, recorded only while someone asks for them.

The predict path marks its stages (``with stage("gateway.auth"): …``); a caller that wants the profile runs
the request inside :func:`recording` and reads the milliseconds per stage afterwards (``bench_serving.py``
does). Without a recording a span costs one context-variable lookup, so the marks stay in production code.
Spans nest freely; each name adds up its own inclusive time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

__all__ = ["recording", "stage"]

_STAGES: ContextVar[dict[str, float] | None] = ContextVar("exeml_stages", default=None)


class stage:
    """A span of the current request named ``name``; a no-op unless a :func:`recording` is open."""

    __slots__ = ("_name", "_stages", "_started")

    def __init__(self, name: str) -> None:
        self._name = name
        self._stages = _STAGES.get()
        self._started = 0.0

    def __enter__(self) -> None:
        if self._stages is not None:
            self._started = time.perf_counter()

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._stages is not None:
            elapsed = (time.perf_counter() - self._started) * 1000
            self._stages[self._name] = self._stages.get(self._name, 0.0) + elapsed


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Collect the stages of what runs inside (same task, or tasks it starts): name -> milliseconds."""
    stages: dict[str, float] = {}
    token = _STAGES.set(stages)
    try:
        yield stages
    finally:
        _STAGES.reset(token)
