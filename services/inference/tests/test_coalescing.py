"""Predictions that arrive while a model's requests are in flight leave together, each answered as alone
(the real Triton server: test_triton_batching.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from inference.triton.coalescing import Coalescer


class Model:
    """A stand-in for one Triton model: each request waits until the test releases it, then answers each
    payload with its own text (or fails, for payloads in ``failing``)."""

    def __init__(self, failing: frozenset[bytes] = frozenset()) -> None:
        self.requests: list[list[bytes]] = []
        self.release = asyncio.Event()
        self.failing = failing

    async def send(self, payloads: list[bytes]) -> list[dict[str, Any]]:
        self.requests.append(payloads)
        await self.release.wait()
        if self.failing & set(payloads):
            raise RuntimeError("the model run failed")
        return [{"ok": payload.decode()} for payload in payloads]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_payloads_that_come_while_requests_are_out_leave_together_in_order() -> None:
    model = Model()
    coalescer = Coalescer(model.send, max_rows=32, max_bytes=1 << 20, max_in_flight=2)
    calls = [asyncio.create_task(coalescer.infer(b"p%d" % i)) for i in range(10)]
    await _settle()
    assert model.requests == [[b"p0"], [b"p1"]]  # the first two went at once, alone; the rest wait

    model.release.set()
    answers = await asyncio.gather(*calls)

    assert answers == [{"ok": f"p{i}"} for i in range(10)]  # each caller gets its own payload's answer
    assert model.requests[2:] == [[b"p2", b"p3", b"p4", b"p5", b"p6", b"p7", b"p8", b"p9"]]


async def test_one_at_a_time_every_payload_is_a_request_of_its_own() -> None:
    model = Model()
    model.release.set()
    coalescer = Coalescer(model.send, max_rows=32, max_bytes=1 << 20, max_in_flight=2)
    answers = [await coalescer.infer(b"p%d" % i) for i in range(3)]
    assert answers == [{"ok": "p0"}, {"ok": "p1"}, {"ok": "p2"}]
    assert model.requests == [[b"p0"], [b"p1"], [b"p2"]]


async def test_requests_keep_to_the_row_and_byte_limits() -> None:
    model = Model()
    coalescer = Coalescer(model.send, max_rows=3, max_bytes=10, max_in_flight=1)
    payloads = [b"a", b"b", b"c", b"d", b"e", b"12345678", b"x" * 40, b"f"]
    calls = [asyncio.create_task(coalescer.infer(p)) for p in payloads]
    await _settle()
    model.release.set()
    assert [a["ok"] for a in await asyncio.gather(*calls)] == [p.decode() for p in payloads]
    # max_in_flight 1: "a" alone; then at most 3 rows and 10 bytes, a larger payload alone.
    assert model.requests == [[b"a"], [b"b", b"c", b"d"], [b"e", b"12345678"], [b"x" * 40], [b"f"]]


async def test_a_failed_request_fails_each_of_its_callers_and_no_other() -> None:
    model = Model(failing=frozenset({b"bad"}))
    coalescer = Coalescer(model.send, max_rows=32, max_bytes=1 << 20, max_in_flight=1)
    first = asyncio.create_task(coalescer.infer(b"p0"))
    together = [asyncio.create_task(coalescer.infer(p)) for p in (b"p1", b"bad", b"p2")]
    await _settle()
    model.release.set()
    assert await first == {"ok": "p0"}
    for call in together:
        with pytest.raises(RuntimeError, match="model run failed"):
            await call
    assert await coalescer.infer(b"p3") == {"ok": "p3"}  # nothing is left in flight or waiting


async def test_a_caller_that_gives_up_while_waiting_is_left_out_of_the_request() -> None:
    model = Model()
    coalescer = Coalescer(model.send, max_rows=32, max_bytes=1 << 20, max_in_flight=1)
    calls = [asyncio.create_task(coalescer.infer(b"p%d" % i)) for i in range(4)]
    await _settle()
    calls[2].cancel()
    await _settle()
    model.release.set()
    assert await calls[3] == {"ok": "p3"}
    assert calls[2].cancelled()
    assert model.requests == [[b"p0"], [b"p1", b"p3"]]
