"""The bus, same test code against real RabbitMQ and the in-memory transport."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from shared.context import new_id
from shared.db import TYPE_ANNOTATION_MAP, Database, service_metadata
from shared.events import EventContract
from shared.messaging import (
    DEAD_LETTER_REASON_HEADER,
    Envelope,
    EventConsumer,
    HandlerRegistry,
    Outbox,
    OutboxRelay,
    OutgoingMessage,
    QueueSpec,
    messaging_tables,
)
from shared.messaging.envelope import make_envelope
from shared.testing.db import database_with


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


TABLES = messaging_tables(Base.metadata)
effects = sa.Table(
    "effects", Base.metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("value", sa.String(50))
)


class Pinged(EventContract):
    event_type = "testsvc.thing.pinged.v1"
    value: str


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _message(value: str, event_id: str | None = None) -> OutgoingMessage:
    env = make_envelope(Pinged(value=value), source="/test", tenant_id="t1")
    if event_id:
        env = env.model_copy(update={"id": event_id})
    return OutgoingMessage(routing_key=env.type, body=env.to_bytes(), message_id=env.id)


@pytest.fixture
async def db(database_url):
    database = await database_with(database_url, Base.metadata)
    yield database
    await database.dispose()


def _queue() -> str:
    return f"test.{new_id()[:10]}"


async def _count_effects(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(sa.select(sa.func.count()).select_from(effects)) or 0)


def _consumer(db: Database, transport, queue: str, limit: int = 3) -> EventConsumer:
    consumer = EventConsumer(
        service="testsvc", db=db, inbox=TABLES.inbox, transport=transport, queue=queue, delivery_limit=limit
    )

    @consumer.handler(Pinged)
    async def record(session, envelope: Envelope[Pinged]) -> None:
        assert isinstance(envelope.data, Pinged)  # validated into the contract before the handler runs
        if envelope.data.value == "boom":
            raise RuntimeError("transient failure")
        await session.execute(effects.insert().values(value=envelope.data.value))

    return consumer


async def test_publish_consume(transport_factory) -> None:
    transport = await transport_factory()
    queue = _queue()
    await transport.declare_queue(QueueSpec(queue, ("testsvc.#",)))
    received: asyncio.Queue = asyncio.Queue()

    async def handler(delivery) -> None:
        await received.put(delivery.body)
        await delivery.ack()

    await transport.consume(queue, handler)
    await transport.publish(_message("hello"))
    body = await asyncio.wait_for(received.get(), 10)
    assert b'"hello"' in body


async def test_every_broadcast_subscriber_gets_its_own_copy_and_nothing_once_it_left(
    transport_factory,
) -> None:
    first, second = await transport_factory(), await transport_factory()
    heard: dict[str, asyncio.Queue] = {"first": asyncio.Queue(), "second": asyncio.Queue()}

    def hearing(name: str):
        async def handler(delivery) -> None:
            await heard[name].put(delivery.body)
            await delivery.ack()

        return handler

    gone = await first.subscribe_broadcast(("testsvc.#",), hearing("first"))
    await second.subscribe_broadcast(("testsvc.#",), hearing("second"))
    await first.publish(_message("to-all"))
    for copies in heard.values():
        assert b'"to-all"' in await asyncio.wait_for(copies.get(), 10)
    await gone.cancel()
    await first.publish(_message("later"))
    assert b'"later"' in await asyncio.wait_for(heard["second"].get(), 10)
    await asyncio.sleep(0.2)
    assert heard["first"].empty()


async def test_same_event_twice_has_one_effect(transport_factory, db) -> None:
    transport = await transport_factory()
    consumer = _consumer(db, transport, _queue())
    await consumer.start()
    event_id = new_id()
    await transport.publish(_message("once", event_id))
    await transport.publish(_message("once", event_id))
    await _wait_for(lambda: _has_inbox(db, event_id))
    await asyncio.sleep(0.5)  # let the duplicate be processed too
    assert await _count_effects(db) == 1


async def _has_inbox(db: Database, event_id: str) -> bool:
    async with db.session() as s:
        return bool(
            await s.scalar(
                sa.select(sa.func.count())
                .select_from(TABLES.inbox)
                .where(TABLES.inbox.c.event_id == event_id)
            )
        )


async def test_consumer_dying_before_ack_gets_message_again(transport_factory) -> None:
    queue = _queue()
    first = await transport_factory()
    await first.declare_queue(QueueSpec(queue, ("testsvc.#",)))
    got_first = asyncio.Event()

    async def die(delivery) -> None:
        got_first.set()
        await asyncio.sleep(3600)  # never acks

    await first.consume(queue, die)
    await first.publish(_message("again"))
    await asyncio.wait_for(got_first.wait(), 10)
    await first.close()  # the consumer "dies"

    second = await transport_factory()
    redelivered: asyncio.Queue = asyncio.Queue()

    async def ok(delivery) -> None:
        await redelivered.put(delivery)
        await delivery.ack()

    await second.consume(queue, ok)
    delivery = await asyncio.wait_for(redelivered.get(), 15)
    assert b'"again"' in delivery.body
    assert delivery.attempt == 2


async def test_undecodable_message_is_dead_lettered(transport_factory, db) -> None:
    transport = await transport_factory()
    queue = _queue()
    consumer = _consumer(db, transport, queue)
    await consumer.start()
    await transport.publish(
        OutgoingMessage(routing_key=Pinged.event_type, body=b"\xffnot json", message_id="bad")
    )

    async def in_dlq() -> bool:
        delivery = await transport.get(f"{queue}.dlq")
        if delivery is None:
            return False
        assert delivery.body == b"\xffnot json"
        assert delivery.headers[DEAD_LETTER_REASON_HEADER].startswith("not a CloudEvents envelope: ")
        await delivery.ack()
        return True

    await _wait_for(in_dlq)


async def test_payload_breaking_its_contract_is_dead_lettered_with_the_validation_error(
    transport_factory, db
) -> None:
    transport = await transport_factory()
    queue = _queue()
    consumer = _consumer(db, transport, queue)
    await consumer.start()
    good = make_envelope(Pinged(value="x"), source="/test", tenant_id="t1")
    bad = good.model_copy(update={"data": {"value": ["not", "a", "string"]}})
    await transport.publish(OutgoingMessage(routing_key=bad.type, body=bad.to_bytes(), message_id=bad.id))
    dead: list = []

    async def in_dlq() -> bool:
        delivery = await transport.get(f"{queue}.dlq")
        if delivery is not None:
            dead.append(delivery)
            await delivery.ack()
        return bool(dead)

    await _wait_for(in_dlq)
    assert dead[0].body == bad.to_bytes() and dead[0].attempt == 1  # at once, not after the delivery limit
    assert dead[0].headers[DEAD_LETTER_REASON_HEADER] == (
        "testsvc.thing.pinged.v1 payload does not match Pinged: data.value: Input should be a valid string"
    )
    assert await _count_effects(db) == 0 and not await _has_inbox(db, bad.id)


async def test_transient_failure_is_retried_then_dead_lettered(transport_factory, db) -> None:
    transport = await transport_factory()
    queue = _queue()
    consumer = _consumer(db, transport, queue, limit=3)
    await consumer.start()
    await transport.publish(_message("boom"))

    async def in_dlq() -> bool:
        delivery = await transport.get(f"{queue}.dlq")
        if delivery is None:
            return False
        assert "RuntimeError('transient failure')" in delivery.headers[DEAD_LETTER_REASON_HEADER]
        await delivery.ack()
        return True

    await _wait_for(in_dlq, timeout=20)
    assert await _count_effects(db) == 0


async def test_outbox_rolled_back_never_published_committed_once(transport_factory, db) -> None:
    transport = await transport_factory()
    queue = _queue()
    await transport.declare_queue(QueueSpec(queue, ("testsvc.#",)))
    outbox = Outbox(TABLES.outbox, source="/test")
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await outbox.add(s, Pinged(value="rolled-back"), tenant_id="t1")
            raise RuntimeError("the change failed")
    async with db.session() as s:
        await outbox.add(s, Pinged(value="committed"), tenant_id="t1")

    relay = OutboxRelay(db, outbox, transport)
    assert await relay.run_once() == 1
    assert await relay.run_once() == 0
    bodies = await _drain(transport, queue)
    assert [b'"committed"' in b for b in bodies] == [True]


async def _drain(transport, queue: str) -> list[bytes]:
    await asyncio.sleep(0.3)
    bodies = []
    while (delivery := await transport.get(queue)) is not None:
        bodies.append(delivery.body)
        await delivery.ack()
    return bodies


class _CrashAfterPublish:
    """A transport whose process 'dies' right after the broker confirmed the publish."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def publish(self, message) -> None:
        await self.inner.publish(message)
        raise asyncio.CancelledError  # what a shutdown mid-relay looks like to the relay


async def test_relay_crash_after_publish_has_one_effect(transport_factory, db) -> None:
    transport = await transport_factory()
    queue = _queue()
    consumer = _consumer(db, transport, queue)
    await consumer.start()
    outbox = Outbox(TABLES.outbox, source="/test")
    async with db.session() as s:
        envelope = await outbox.add(s, Pinged(value="exactly-once"), tenant_id="t1")

    with pytest.raises(asyncio.CancelledError):
        await OutboxRelay(db, outbox, _CrashAfterPublish(transport)).run_once()
    assert await OutboxRelay(db, outbox, transport).run_once() == 1  # the row was not marked: sent again
    await _wait_for(lambda: _has_inbox(db, envelope.id))
    await asyncio.sleep(0.5)
    assert await _count_effects(db) == 1
    async with db.session() as s:
        pending = await s.scalar(
            sa.select(sa.func.count())
            .select_from(TABLES.outbox)
            .where(TABLES.outbox.c.published_at.is_(None))
        )
    assert pending == 0


class Unannounced(EventContract):
    event_type = "testsvc.thing.unannounced.v1"


async def test_outbox_writes_only_the_events_its_service_declares(db) -> None:
    outbox = Outbox(TABLES.outbox, source="/test", publishes=[Pinged])
    async with db.session() as s:
        await outbox.add(s, Pinged(value="declared"), tenant_id="t1")
        with pytest.raises(
            TypeError, match="testsvc.thing.unannounced.v1 is not among the events /test declares"
        ):
            await outbox.add(s, Unannounced(), tenant_id="t1")


def test_handlers_are_registered_by_contract_class_only() -> None:
    registry = HandlerRegistry("testsvc")
    with pytest.raises(TypeError, match="event contract class"):
        registry.handler("testsvc.thing.pinged.v1")  # type: ignore[arg-type]  # the mistake under test
    with pytest.raises(TypeError, match="event contract class"):
        registry.handler(EventContract)  # the abstract base has no event type

    async def noop(session, envelope) -> None:
        return None

    registry.handler(Pinged)(noop)
    assert registry.contracts == [Pinged]
