"""Predictions for one Triton model that arrive while its earlier requests are in flight go together, as one
request of several rows.

Triton's dynamic batcher already runs queued requests in one model call; this saves what each request costs
before it gets there: one HTTP request to build, send, parse and answer on each side instead of one per
prediction (at 8 concurrent table predictions, about a fifth of the inference process's CPU per prediction).
Nothing waits for a batch to fill: a prediction is sent at once while fewer than ``max_in_flight`` requests of
its model are out, and the ones that come meanwhile leave together as soon as one returns. At concurrency 1
every prediction is a request of its own, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Coalescer"]

Send = Callable[[list[bytes]], Awaitable[list[dict[str, Any]]]]


class Coalescer:
    """Sends payloads of one model through ``send`` (payloads -> one answer each, in order): at most
    ``max_in_flight`` requests at once, each of at most ``max_rows`` payloads and, unless one payload alone is
    larger, ``max_bytes`` bytes. A failed request fails each of its payloads' calls with its exception."""

    def __init__(self, send: Send, *, max_rows: int, max_bytes: int, max_in_flight: int) -> None:
        self._send, self.max_rows, self.max_bytes = send, max_rows, max_bytes
        self.max_in_flight = max_in_flight
        self._waiting: list[tuple[bytes, asyncio.Future[dict[str, Any]]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def infer(self, payload: bytes) -> dict[str, Any]:
        if self._in_flight < self.max_in_flight and not self._waiting:
            self._in_flight += 1  # the common case at low load: sent by the caller itself, no task
            try:
                return (await self._send([payload]))[0]
            finally:
                self._done()
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((payload, answer))
        return await answer

    def _done(self) -> None:
        self._in_flight -= 1
        while self._waiting and self._in_flight < self.max_in_flight:
            rows = self._take()
            if rows:
                self._in_flight += 1
                task = asyncio.create_task(self._send_rows(rows))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[bytes, asyncio.Future[dict[str, Any]]]]:
        """The next request's payloads from the front of the queue; callers that gave up are dropped."""
        rows: list[tuple[bytes, asyncio.Future[dict[str, Any]]]] = []
        size = count = 0
        for payload, answer in self._waiting:
            if len(rows) == self.max_rows or (rows and size + len(payload) > self.max_bytes):
                break
            count += 1
            if not answer.done():  # cancelled: its client went away
                rows.append((payload, answer))
                size += len(payload)
        del self._waiting[:count]
        return rows

    async def _send_rows(self, rows: list[tuple[bytes, asyncio.Future[dict[str, Any]]]]) -> None:
        try:
            answers = await self._send([payload for payload, _ in rows])
        except asyncio.CancelledError:
            for _, answer in rows:
                answer.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to each caller, who decides
            for _, answer in rows:
                if not answer.done():
                    answer.set_exception(exc)
        else:
            for (_, answer), result in zip(rows, answers, strict=True):
                if not answer.done():
                    answer.set_result(result)
        finally:
            self._done()
