"""A labeling service on PostgreSQL, RabbitMQ and S3, fed with the dataset service's events over the bus.

The dataset events are published on the platform's exchange exactly as the dataset service's outbox relay
would (a CloudEvents envelope from source ``/exeml/dataset``); the events labeling publishes are read from
its outbox table and, in one test, from a probe queue bound on the exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from labeling.models import Sample, messaging

from shared.context import new_id
from shared.events.base import EventContract
from shared.events.dataset import DATASET_TYPES, AddedSample, DatasetCreated, SamplesAdded
from shared.messaging import Envelope
from shared.messaging.envelope import make_envelope
from shared.messaging.transport import OutgoingMessage
from shared.testing.bus import outbox_envelopes
from shared.testing.platform import Platform, wait_until

TENANT, OTHER_TENANT = "tenant-a", "tenant-b"


@dataclass
class Lab:
    """The platform plus the helpers every labeling test needs."""

    platform: Platform
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def runtime(self):
        return self.platform.runtimes["labeling"]

    def client(self, tenant_id: str = TENANT, roles: tuple[str, ...] = ("admin",)) -> httpx.AsyncClient:
        key = f"{tenant_id}/{','.join(roles)}"
        if key not in self.clients:
            self.clients[key] = self.platform.client("labeling", tenant_id=tenant_id, roles=roles)
        return self.clients[key]

    def envelope(self, event: EventContract, tenant_id: str = TENANT) -> Envelope[dict[str, Any]]:
        return make_envelope(event, source="/exeml/dataset", tenant_id=tenant_id)

    async def publish(
        self, event: EventContract | Envelope[dict[str, Any]], tenant_id: str = TENANT
    ) -> Envelope:
        """Put a dataset event on the bus (an envelope is published as is: redelivery tests)."""
        envelope = event if isinstance(event, Envelope) else self.envelope(event, tenant_id)
        await self.runtime.transport.publish(
            OutgoingMessage(
                routing_key=envelope.type,
                body=envelope.to_bytes(),
                message_id=envelope.id,
                headers={"tenantid": envelope.tenantid},
            )
        )
        return envelope

    async def processed(self, envelope: Envelope, handlers: int = 1) -> None:
        """Wait until the inbox shows the event handled."""
        inbox = messaging.inbox

        async def done() -> bool:
            async with self.runtime.db.session() as session:
                n = await session.scalar(sa.select(sa.func.count()).where(inbox.c.event_id == envelope.id))
            return n >= handlers

        await wait_until(done, what=f"{envelope.type} {envelope.id} processed")

    async def dataset(
        self, dataset_type: int, samples: Sequence[AddedSample] = (), tenant_id: str = TENANT
    ) -> str:
        """A dataset announced over the bus, with samples; returns its id once labeling has both."""
        dataset_id = new_id()
        created = await self.publish(
            DatasetCreated(
                dataset_id=dataset_id,
                name=f"ds-{dataset_id[:6]}",
                dataset_type=dataset_type,
                dataset_type_name=DATASET_TYPES[dataset_type],
            ),
            tenant_id,
        )
        await self.processed(created)
        if samples:
            await self.add_samples(dataset_id, dataset_type, samples, tenant_id)
        return dataset_id

    async def add_samples(
        self, dataset_id: str, dataset_type: int, samples: Sequence[AddedSample], tenant_id: str = TENANT
    ) -> Envelope:
        event = SamplesAdded(dataset_id=dataset_id, dataset_type=dataset_type, samples=list(samples))
        envelope = await self.publish(event, tenant_id)
        await self.processed(envelope)
        return envelope

    async def events(self, event_type: str, dataset_id: str | None = None) -> list[dict[str, Any]]:
        """The ``data`` of the events labeling wrote to its outbox, oldest first."""
        datas = [e["data"] for e in await outbox_envelopes(self.runtime, event_type)]
        return [d for d in datas if dataset_id is None or d.get("dataset_id") == dataset_id]

    async def changes(self, dataset_id: str) -> list[dict[str, list[str]]]:
        """Each annotations.changed event as ``{sample_id: labels}``."""
        return [
            {c["sample_id"]: c["labels"] for c in d["changes"]}
            for d in await self.events("labeling.annotations.changed.v1", dataset_id)
        ]

    async def sample_rows(self, dataset_id: str) -> int:
        async with self.runtime.db.session() as session:
            return int(
                await session.scalar(
                    sa.select(sa.func.count()).select_from(Sample).where(Sample.dataset_id == dataset_id)
                )
                or 0
            )


def image(
    name: str = "a.jpg", annotations: Sequence[dict[str, Any]] = (), width: int = 100, height: int = 80
) -> AddedSample:
    return AddedSample(
        sample_id=new_id(),
        name=name,
        source=f"s3://b/in/{name}",
        sample_type=0,
        width=width,
        height=height,
        annotations=list(annotations),
    )


def sound(name: str = "a.wav", annotations: Sequence[dict[str, Any]] = ()) -> AddedSample:
    return AddedSample(
        sample_id=new_id(),
        name=name,
        source=f"s3://b/in/{name}",
        sample_type=2,
        annotations=list(annotations),
    )


def text(name: str = "a.txt#1", annotations: Sequence[dict[str, Any]] = ()) -> AddedSample:
    return AddedSample(
        sample_id=new_id(), name=name, source="content://hello", sample_type=1, annotations=list(annotations)
    )


def box(name: str, xmin: float, ymin: float, xmax: float, ymax: float) -> dict[str, Any]:
    return {"name": name, "bndbox": {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}}


# Factories reachable from the tests through the fixture (conftest modules are not importable by name).
Lab.image, Lab.sound, Lab.text, Lab.box = (staticmethod(f) for f in (image, sound, text, box))  # type: ignore[attr-defined]  # factories attached at import


@pytest.fixture
async def lab(platform_factory) -> Lab:
    return Lab(await platform_factory(["labeling"]))
