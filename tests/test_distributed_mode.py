"""The distributed wiring: PostgreSQL schema, RabbitMQ and S3 chosen by settings alone."""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import urlparse

from dataset.config import Settings
from dataset.definition import SERVICE

from shared.events import EventContract
from shared.messaging import QueueSpec, RabbitMQTransport
from shared.service import build_runtime
from shared.storage import S3ObjectStore
from shared.testing.bus import delete_queues
from shared.testing.infra import AMQP_URL, require_tcp


class WiringChecked(EventContract):
    event_type = "dataset.wiring.checked.v1"
    note: str


async def test_distributed_runtime_publishes_through_rabbitmq(postgres_url, s3_server, monkeypatch) -> None:
    url, schema = postgres_url
    parsed = urlparse(AMQP_URL)
    require_tcp("RabbitMQ", parsed.hostname or "127.0.0.1", parsed.port or 5672)
    env = {
        "EXEML_MODE": "distributed",
        "EXEML_DATABASE_URL": url,
        "EXEML_DATASET_DB_SCHEMA": schema,
        "EXEML_AMQP_URL": AMQP_URL,
        "EXEML_S3_ENDPOINT": s3_server.endpoint,
        "EXEML_S3_ACCESS_KEY": s3_server.access_key,
        "EXEML_S3_SECRET_KEY": s3_server.secret_key,
        "EXEML_INTERNAL_TOKEN_SECRET": "x" * 40,
        "EXEML_STORAGE_BUCKET": f"dist-{schema.replace('_', '-')}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # The dataset service, also declaring the test's own event (a routing key no real queue binds).
    definition = dataclasses.replace(SERVICE, publishes=(*SERVICE.publishes, WiringChecked))
    runtime = build_runtime(definition, Settings())
    assert isinstance(runtime.transport, RabbitMQTransport) and isinstance(runtime.store, S3ObjectStore)
    await runtime.migrate()
    await runtime.start(background=True)
    queue = f"test.dist.{schema}"
    try:
        await runtime.transport.declare_queue(QueueSpec(queue, ("dataset.wiring.#",)))
        async with runtime.db.session() as session:
            await runtime.outbox.add(session, WiringChecked(note="hi"), tenant_id="t1")
        delivery = None
        for _ in range(100):
            delivery = await runtime.transport.get(queue)
            if delivery is not None:
                break
            await asyncio.sleep(0.1)
        assert delivery is not None and b'"hi"' in delivery.body
        await delivery.ack()
        assert (await runtime.readiness()) == {"database": "ok", "storage": "ok", "bus": "ok"}
    finally:
        await runtime.stop()
        await delete_queues([queue, runtime.consumer.queue])
