"""Job messages: how a training job reaches a worker (ARCHITECTURE.md §4).

A job message is an outbox row like an event, written in the transaction that creates (or re-dispatches)
the job, but routed ``trainer.jobs.<flavor>`` instead of by its event type: the relay publishes it on the
events exchange, and the queue ``trainer.jobs.<flavor>`` (one per flavor, in the bus namespace) holds it
until a worker of that flavor pulls it. The message only says which job; the job row is the truth, and
a worker must still claim it under a lease, so a duplicate or stale message is harmless.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utcnow
from shared.events import EventContract
from shared.messaging import Outbox, QueueSpec, make_envelope
from shared.settings import ServiceSettings

__all__ = ["FLAVORS", "JobDispatched", "add_job_message", "job_queue", "job_queue_spec", "job_routing_key"]

FLAVORS = ("cpu", "gpu")


class JobDispatched(EventContract):
    """The body of a job message (routing key ``trainer.jobs.<flavor>``)."""

    event_type = "training.job.dispatched.v1"
    job_id: str
    flavor: str
    attempt: int = 0


def job_routing_key(flavor: str) -> str:
    return f"trainer.jobs.{flavor}"


def job_queue(settings: ServiceSettings, flavor: str) -> str:
    return settings.bus_queue(job_routing_key(flavor))


def job_queue_spec(settings: ServiceSettings, flavor: str) -> QueueSpec:
    # Delivery limit: a message whose handling crashes the worker before the claim commits comes back;
    # after that many tries it is dead-lettered and the job waits for the sweeper.
    return QueueSpec(job_queue(settings, flavor), (job_routing_key(flavor),), delivery_limit=10)


async def add_job_message(
    session: AsyncSession, outbox: Outbox, *, job_id: str, tenant_id: str, flavor: str, attempt: int
) -> None:
    """Write the job message into the outbox, inside the caller's transaction."""
    envelope = make_envelope(
        JobDispatched(job_id=job_id, flavor=flavor, attempt=attempt),
        source=outbox.source,
        subject=job_id,
        tenant_id=tenant_id,
    )
    await session.execute(
        outbox.table.insert().values(
            event_id=envelope.id,
            event_type=job_routing_key(flavor),  # the relay routes by this column
            tenant_id=tenant_id,
            envelope=envelope.model_dump_json(),
            created_at=utcnow(),
        )
    )
