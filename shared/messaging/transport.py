"""The transport interface: one topic exchange for events, quorum-style queues with dead-lettering.

Two implementations share it: :class:`~shared.messaging.rabbitmq.RabbitMQTransport` (aio-pika) and
:class:`~shared.messaging.memory.InMemoryTransport` (the embedded mode and fast tests). Code above this
layer (outbox relay, consumer runner) never knows which one it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_REASON_HEADER",
    "EVENTS_EXCHANGE",
    "Delivery",
    "DeliveryHandler",
    "OutgoingMessage",
    "QueueSpec",
    "Subscription",
    "Transport",
    "topic_matches",
]

EVENTS_EXCHANGE = "exeml.events"
DEAD_LETTER_EXCHANGE = "exeml.dlx"
CONTENT_TYPE = "application/cloudevents+json"
# Why a consumer dead-lettered a message (a validation error, the last failure), on its copy in ``<queue>.dlq``.
DEAD_LETTER_REASON_HEADER = "x-exeml-dead-letter-reason"
REASON_MAX_CHARS = 2000


def dead_letter_headers(headers: dict[str, str], reason: str) -> dict[str, str]:
    """The headers of a dead-lettered copy: the original ones plus the (bounded) reason."""
    return {**headers, DEAD_LETTER_REASON_HEADER: reason[:REASON_MAX_CHARS]}


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = CONTENT_TYPE


@dataclass(frozen=True)
class QueueSpec:
    """A durable consumer queue bound to ``exeml.events`` with topic patterns.

    Messages that fail ``delivery_limit`` times, or are dead-lettered explicitly, go to
    ``exeml.dlx`` with the queue's name as routing key, into ``<name>.dlq``.
    """

    name: str
    bindings: tuple[str, ...]
    delivery_limit: int = 5

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


class Delivery(ABC):
    """One received message. Exactly one of ``ack``/``requeue``/``dead_letter`` settles it."""

    body: bytes
    routing_key: str
    message_id: str | None
    headers: dict[str, str]
    attempt: int  # 1 on the first delivery, 2 after one requeue or lost consumer, ...

    @abstractmethod
    async def ack(self) -> None: ...

    @abstractmethod
    async def requeue(self) -> None:
        """Give the message back for another try (counts toward the delivery limit)."""

    @abstractmethod
    async def dead_letter(self, reason: str) -> None:
        """Never retry: route the message to the dead-letter queue, its ``reason`` in a header."""


DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class Subscription(ABC):
    @abstractmethod
    async def cancel(self) -> None: ...


class Transport(ABC):
    """Connect, publish with broker confirmation, declare queues, consume."""

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None:
        """Close; deliveries not yet settled go back to their queues."""

    @abstractmethod
    async def publish(self, message: OutgoingMessage) -> None:
        """Publish to ``exeml.events``; returns only once the broker has taken responsibility."""

    @abstractmethod
    async def declare_queue(self, spec: QueueSpec) -> None: ...

    @abstractmethod
    async def consume(self, queue: str, handler: DeliveryHandler, prefetch: int = 16) -> Subscription: ...

    @abstractmethod
    async def subscribe_broadcast(self, bindings: tuple[str, ...], handler: DeliveryHandler) -> Subscription:
        """Receive a copy of every event matching ``bindings`` in a queue of this connection alone (exclusive,
        gone with it): for state each process keeps in memory (a cache to invalidate), where every replica
        must hear the event and none needs what was published while it was away. Settle each delivery; no
        inbox, no dead-letter queue."""

    @abstractmethod
    async def get(self, queue: str) -> Delivery | None:
        """Fetch one message without a subscription (tools and tests), or None if the queue is empty."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the broker connection is not usable."""


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
