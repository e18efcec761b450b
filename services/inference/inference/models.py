"""ORM tables of the inference service (schema ``inference`` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import (
    TYPE_ANNOTATION_MAP,
    IdMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    service_metadata,
    utcnow,
)
from shared.db.lease import LeaseMixin
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class ServiceStatus(StrEnum):
    """A real-time service's status, as ModelArts names them."""

    DEPLOYING = "deploying"  # models are being loaded (create, start)
    RUNNING = "running"
    CONCERNING = "concerning"  # running, but a model is not ready on Triton
    FAILED = "failed"
    STOPPED = "stopped"
    STOPPING = "stopping"
    DELETING = "deleting"


STATUSES = tuple(status.value for status in ServiceStatus)
# Serving requests; changing (the reconciler has work to do); on the way out.
ACTIVE = (ServiceStatus.RUNNING, ServiceStatus.CONCERNING)
LEAVING = (ServiceStatus.STOPPING, ServiceStatus.DELETING)
PENDING_WORK = (ServiceStatus.DEPLOYING, *LEAVING)


class RealTimeService(IdMixin, TenantMixin, TimestampMixin, LeaseMixin, Base):
    """A real-time service: model versions with traffic weights, served by Triton.

    ``config`` is what serves now (each entry names its Triton model); ``target_config`` is a change the
    reconciler is rolling out (create, start, config update): it loads the target's models first, then
    switches ``config`` to them and unloads the old ones, so requests never lack a loaded model. A
    reconciler holds the service's lease while it works on it, so two workers never deploy it twice.
    """

    __tablename__ = "services"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=ServiceStatus.DEPLOYING, index=True
    )
    progress: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    config: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)
    target_config: Mapped[list[dict[str, Any]] | None] = mapped_column(
        sa.JSON(none_as_null=True), nullable=True
    )
    generation: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    schedule_hours: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    due_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    invocation_times: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    failed_times: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    transition_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class ServiceEvent(IdMixin, TenantMixin, Base):
    """What happened to a service (``kind`` ``event``) and its update history (``kind`` ``update``)."""

    __tablename__ = "service_events"

    service_id: Mapped[str] = mapped_column(
        sa.ForeignKey("services.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="event")
    event_type: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="normal")
    event_info: Mapped[str] = mapped_column(sa.Text, nullable=False)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    occur_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class BatchStatus(StrEnum):
    """A batch service's status (ModelArts' batch services: they end ``finished``)."""

    DEPLOYING = "deploying"  # waiting for a worker, listing the inputs, loading the model
    RUNNING = "running"
    STOPPING = "stopping"  # asked to stop: the worker stops after the chunk in hand
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


BATCH_STATUSES = tuple(status.value for status in BatchStatus)
# A worker has work on these (resume, or finish a stop); the others are final.
BATCH_ACTIVE = (BatchStatus.DEPLOYING, BatchStatus.RUNNING, BatchStatus.STOPPING)


class BatchService(IdMixin, TenantMixin, TimestampMixin, LeaseMixin, Base):
    """A batch service: one model version run over every input of a folder, answers written to a folder.

    The inputs are listed once (``inventory``: ``[key, inputs in that object]`` in key order) and cut into
    chunks of ``chunk_size`` inputs; chunk ``k``'s answers are written as one object, then ``next_chunk``
    moves to ``k + 1`` under the worker's lease (ADR 0021), so a worker that takes over resumes at the first
    chunk not recorded and no input is answered twice.
    """

    __tablename__ = "batch_services"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=BatchStatus.DEPLOYING, index=True
    )
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    model_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    model_version: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    model_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    task_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    package_uri: Mapped[str] = mapped_column(sa.Text, nullable=False)
    specification: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    instance_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    src_path: Mapped[str] = mapped_column(sa.Text, nullable=False)
    dest_path: Mapped[str] = mapped_column(sa.Text, nullable=False)
    chunk_size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    inventory: Mapped[list[list[Any]] | None] = mapped_column(sa.JSON(none_as_null=True), nullable=True)
    total_inputs: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_chunk: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    done_inputs: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failed_inputs: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    progress: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    retries: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
