"""RabbitMQ transport on aio-pika: confirmed persistent publishes, quorum queues, dead-lettering.

Consumer queues are quorum queues: the broker counts deliveries (``x-delivery-count``), enforces
``x-delivery-limit`` even when a consumer crashes in a loop, and dead-letters to ``exeml.dlx``. Queue
arguments are fixed once per queue name; RabbitMQ refuses a redeclaration with other arguments.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.messaging.transport import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    Delivery,
    DeliveryHandler,
    OutgoingMessage,
    QueueSpec,
    Subscription,
    Transport,
    dead_letter_headers,
)

__all__ = ["RabbitMQTransport"]


class _RabbitDelivery(Delivery):
    def __init__(self, message: AbstractIncomingMessage, transport: RabbitMQTransport, queue: str) -> None:
        self._message, self._transport, self._queue = message, transport, queue
        self.body = message.body
        self.routing_key = message.routing_key or ""
        self.message_id = message.message_id
        headers = dict(message.headers or {})
        self.attempt = int(str(headers.pop("x-delivery-count", 0) or 0)) + 1
        self.headers = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in headers.items()}

    async def ack(self) -> None:
        await self._message.ack()

    async def requeue(self) -> None:
        await self._message.nack(requeue=True)

    async def dead_letter(self, reason: str) -> None:
        # A reject would dead-letter through the queue's x-dead-letter-exchange, but without our reason:
        # publish the copy with it (confirmed) and then ack. A crash in between dead-letters it twice.
        copy = aio_pika.Message(
            body=self.body,
            message_id=self.message_id,
            headers=dict(dead_letter_headers(self.headers, reason)),
            content_type=self._message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._transport.publish_dead_letter(copy, self._queue)
        await self._message.ack()


class _RabbitSubscription(Subscription):
    def __init__(self, channel: AbstractChannel, queue: AbstractQueue, tag: str) -> None:
        self._channel, self._queue, self._tag = channel, queue, tag

    async def cancel(self) -> None:
        if not self._channel.is_closed:
            await self._queue.cancel(self._tag)
            await self._channel.close()


class RabbitMQTransport(Transport):
    """One robust connection; a confirming channel for publishes, one channel per subscription."""

    def __init__(self, url: str, namespace: str = "exeml") -> None:
        self.url = url
        # Exchanges are <namespace>.events / <namespace>.dlx: "exeml" in every deployment; tests use their
        # own namespace so that parallel runs on one broker do not see each other's messages.
        self.events_exchange = EVENTS_EXCHANGE if namespace == "exeml" else f"{namespace}.events"
        self.dead_letter_exchange = DEAD_LETTER_EXCHANGE if namespace == "exeml" else f"{namespace}.dlx"
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._events: AbstractExchange | None = None
        self._dead_letters: AbstractExchange | None = None
        self._get_channel: AbstractChannel | None = None

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(self.url)
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        self._events, self._dead_letters = await self._declare_exchanges(self._publish_channel)

    async def _declare_exchanges(self, channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
        """The events exchange and the dead-letter exchange."""
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        events = await channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        return events, dlx

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._publish_channel = self._get_channel = None
        self._events = self._dead_letters = None

    def _require_connection(self) -> AbstractRobustConnection:
        if self._connection is None or self._connection.is_closed:
            raise ConnectionError("RabbitMQ transport is not connected")
        return self._connection

    async def ping(self) -> None:
        self._require_connection()
        if self._publish_channel is None or self._publish_channel.is_closed:
            raise ConnectionError("RabbitMQ publish channel is closed")

    async def publish(self, message: OutgoingMessage) -> None:
        await self.ping()
        assert self._events is not None
        await self._events.publish(
            aio_pika.Message(
                body=message.body,
                message_id=message.message_id,
                headers=dict(message.headers),
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=message.routing_key,
        )

    async def publish_dead_letter(self, message: aio_pika.Message, queue: str) -> None:
        """Put ``message`` into ``<queue>.dlq`` (bound to the dead-letter exchange by the queue's name)."""
        await self.ping()
        assert self._dead_letters is not None
        await self._dead_letters.publish(message, routing_key=queue)

    async def declare_queue(self, spec: QueueSpec) -> None:
        channel = await self._require_connection().channel()
        try:
            events, dlx = await self._declare_exchanges(channel)
            dlq = await channel.declare_queue(
                spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dlq.bind(dlx, routing_key=spec.name)
            queue = await channel.declare_queue(
                spec.name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-dead-letter-exchange": self.dead_letter_exchange,
                    "x-dead-letter-routing-key": spec.name,
                    "x-delivery-limit": spec.delivery_limit,
                },
            )
            for pattern in spec.bindings:
                await queue.bind(events, routing_key=pattern)
        finally:
            await channel.close()

    async def consume(self, queue: str, handler: DeliveryHandler, prefetch: int = 16) -> Subscription:
        channel = await self._require_connection().channel()
        await channel.set_qos(prefetch_count=prefetch)
        source = await channel.get_queue(queue, ensure=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handler(_RabbitDelivery(message, self, queue))

        tag = await source.consume(on_message)
        return _RabbitSubscription(channel, source, tag)

    async def subscribe_broadcast(self, bindings: tuple[str, ...], handler: DeliveryHandler) -> Subscription:
        # Declared, bound and consumed on one robust channel, so a reconnection declares it again.
        channel = await self._require_connection().channel()
        events, _ = await self._declare_exchanges(channel)
        source = await channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in bindings:
            await source.bind(events, routing_key=pattern)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handler(_RabbitDelivery(message, self, source.name))

        tag = await source.consume(on_message)
        return _RabbitSubscription(channel, source, tag)

    async def get(self, queue: str) -> Delivery | None:
        # A dedicated channel per get would drop the unacked message on close: use the publish
        # connection's long-lived helper channel instead.
        channel = await self._getter_channel()
        source = await channel.get_queue(queue, ensure=True)
        message = await source.get(no_ack=False, fail=False)
        return _RabbitDelivery(message, self, queue) if message is not None else None

    async def _getter_channel(self) -> AbstractChannel:
        if self._get_channel is None or self._get_channel.is_closed:
            self._get_channel = await self._require_connection().channel()
        return self._get_channel
