"""Events on RabbitMQ (or in memory): envelope, outbox + relay, inbox, consumer runner, transports."""

from shared.messaging.consumer import (
    EventConsumer,
    EventHandler,
    HandlerRegistry,
    PermanentFailure,
    claim_inbox,
)
from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope, make_envelope
from shared.messaging.memory import InMemoryBroker, InMemoryTransport
from shared.messaging.outbox import Outbox, OutboxRelay
from shared.messaging.rabbitmq import RabbitMQTransport
from shared.messaging.tables import MessagingTables, messaging_tables
from shared.messaging.transport import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_REASON_HEADER,
    EVENTS_EXCHANGE,
    Delivery,
    OutgoingMessage,
    QueueSpec,
    Subscription,
    Transport,
)

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_REASON_HEADER",
    "EVENTS_EXCHANGE",
    "Delivery",
    "Envelope",
    "EnvelopeError",
    "EventConsumer",
    "EventHandler",
    "HandlerRegistry",
    "InMemoryBroker",
    "InMemoryTransport",
    "MessagingTables",
    "Outbox",
    "OutboxRelay",
    "OutgoingMessage",
    "PermanentFailure",
    "QueueSpec",
    "RabbitMQTransport",
    "Subscription",
    "Transport",
    "claim_inbox",
    "decode_envelope",
    "make_envelope",
    "messaging_tables",
]
