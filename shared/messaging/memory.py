"""An in-process broker with RabbitMQ's semantics that matter to us.

Topic routing, durable queues, unacked deliveries returned when a consumer goes away, a delivery
limit, and dead-lettering. The embedded mode shares one :class:`InMemoryBroker` between all services;
each service opens its own :class:`InMemoryTransport` (a "connection") on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from shared.messaging.transport import (
    Delivery,
    DeliveryHandler,
    OutgoingMessage,
    QueueSpec,
    Subscription,
    Transport,
    dead_letter_headers,
    topic_matches,
)

__all__ = ["InMemoryBroker", "InMemoryTransport"]


@dataclass
class _Message:
    message: OutgoingMessage
    attempt: int = 1


@dataclass
class _Queue:
    spec: QueueSpec | None
    items: deque[_Message] = field(default_factory=deque)
    ready: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def put(self, item: _Message, front: bool = False) -> None:
        async with self.ready:
            (self.items.appendleft if front else self.items.append)(item)
            self.ready.notify_all()

    async def take(self) -> _Message:
        async with self.ready:
            await self.ready.wait_for(lambda: bool(self.items))
            return self.items.popleft()


class InMemoryBroker:
    """The shared state: queues and their topic bindings."""

    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}
        self.bindings: list[tuple[str, str]] = []  # (pattern, queue)

    def declare(self, spec: QueueSpec) -> None:
        if spec.name not in self.queues or self.queues[spec.name].spec is None:
            self.queues.setdefault(spec.name, _Queue(spec)).spec = spec
            self.bindings.extend((pattern, spec.name) for pattern in spec.bindings)
        self.queues.setdefault(spec.dead_letter_queue, _Queue(None))

    def remove(self, name: str) -> None:
        """Delete a queue, its dead-letter queue and its bindings (an exclusive queue whose owner left)."""
        removed = self.queues.pop(name, None)
        spec = removed.spec if removed is not None else None
        if spec is not None:
            self.queues.pop(spec.dead_letter_queue, None)
        self.bindings = [(pattern, queue) for pattern, queue in self.bindings if queue != name]

    async def route(self, message: OutgoingMessage) -> None:
        targets = {q for pattern, q in self.bindings if topic_matches(pattern, message.routing_key)}
        for name in sorted(targets):
            await self.queues[name].put(_Message(message))

    async def give_back(self, queue: str, item: _Message) -> None:
        """Return an unsettled delivery; past the delivery limit it is dead-lettered instead."""
        item.attempt += 1
        spec = self.queues[queue].spec
        if spec is not None and item.attempt > spec.delivery_limit:
            await self.dead_letter(queue, item)
        else:
            await self.queues[queue].put(item, front=True)

    async def dead_letter(self, queue: str, item: _Message, reason: str | None = None) -> None:
        spec = self.queues[queue].spec
        if spec is None:
            return
        message = item.message
        if reason is not None:
            message = replace(message, headers=dead_letter_headers(message.headers, reason))
        await self.queues[spec.dead_letter_queue].put(_Message(message))


class _MemoryDelivery(Delivery):
    def __init__(self, transport: InMemoryTransport, queue: str, item: _Message) -> None:
        msg = item.message
        self.body, self.routing_key, self.message_id = msg.body, msg.routing_key, msg.message_id
        self.headers, self.attempt = dict(msg.headers), item.attempt
        self._transport, self._queue, self._item = transport, queue, item
        self.settled = False

    async def _settle(self) -> None:
        if self.settled:
            raise RuntimeError("delivery already settled")
        self.settled = True
        self._transport._unacked.discard(self)

    async def ack(self) -> None:
        await self._settle()

    async def requeue(self) -> None:
        await self._settle()
        await self._transport.broker.give_back(self._queue, self._item)

    async def dead_letter(self, reason: str) -> None:
        await self._settle()
        await self._transport.broker.dead_letter(self._queue, self._item, reason)

    async def return_unsettled(self) -> None:
        if not self.settled:
            self.settled = True
            await self._transport.broker.give_back(self._queue, self._item)


class _MemorySubscription(Subscription):
    def __init__(
        self, task: asyncio.Task[None], on_cancel: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.task, self._on_cancel = task, on_cancel

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self._on_cancel is not None:
            await self._on_cancel()


class InMemoryTransport(Transport):
    """One connection to an :class:`InMemoryBroker`."""

    def __init__(self, broker: InMemoryBroker | None = None) -> None:
        self.broker = broker or InMemoryBroker()
        self._subscriptions: list[_MemorySubscription] = []
        self._unacked: set[_MemoryDelivery] = set()
        self._open = False

    async def connect(self) -> None:
        self._open = True

    async def close(self) -> None:
        for sub in self._subscriptions:
            await sub.cancel()
        self._subscriptions.clear()
        for delivery in list(self._unacked):
            await delivery.return_unsettled()
        self._unacked.clear()
        self._open = False

    async def ping(self) -> None:
        if not self._open:
            raise ConnectionError("in-memory transport is closed")

    async def publish(self, message: OutgoingMessage) -> None:
        await self.ping()
        await self.broker.route(message)

    async def declare_queue(self, spec: QueueSpec) -> None:
        self.broker.declare(spec)

    async def consume(self, queue: str, handler: DeliveryHandler, prefetch: int = 16) -> Subscription:
        await self.ping()
        sub = _MemorySubscription(asyncio.create_task(self._pump(queue, handler)))
        self._subscriptions.append(sub)
        return sub

    async def _pump(self, queue: str, handler: DeliveryHandler) -> None:
        source = self.broker.queues[queue]
        while True:
            delivery = _MemoryDelivery(self, queue, await source.take())
            self._unacked.add(delivery)
            try:
                await handler(delivery)
            except Exception:  # noqa: BLE001  # a handler bug must not kill the consumer; the broker retries
                await delivery.return_unsettled()

    async def subscribe_broadcast(self, bindings: tuple[str, ...], handler: DeliveryHandler) -> Subscription:
        await self.ping()
        name = f"broadcast.{uuid.uuid4().hex}"
        self.broker.declare(QueueSpec(name, bindings))
        pump = asyncio.create_task(self._pump(name, handler))

        async def forget() -> None:
            self.broker.remove(name)

        sub = _MemorySubscription(pump, on_cancel=forget)
        self._subscriptions.append(sub)
        return sub

    async def get(self, queue: str) -> Delivery | None:
        source = self.broker.queues[queue]
        if not source.items:
            return None
        delivery = _MemoryDelivery(self, queue, source.items.popleft())
        self._unacked.add(delivery)
        return delivery
