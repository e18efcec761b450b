"""ORM tables of the workflow service: ExeML projects, their executions (rounds) and phases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, IdMixin, TenantMixin, TimestampMixin, service_metadata
from shared.messaging import messaging_tables
from workflow.phases import PhaseStatus, RoundStatus


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class Project(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(64))
    project_type: Mapped[str] = mapped_column(sa.String(32), index=True)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    dataset_id: Mapped[str] = mapped_column(sa.String(64))
    input_path: Mapped[str | None] = mapped_column(sa.String(1024), nullable=True)
    output_path: Mapped[str | None] = mapped_column(sa.String(1024), nullable=True)
    flavor: Mapped[str] = mapped_column(sa.String(16), default="cpu")
    training_params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    label_column: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    label_type: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(32), default=RoundStatus.INIT, index=True)
    current_phase: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    rounds: Mapped[int] = mapped_column(default=0)
    model_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    service_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class Execution(IdMixin, TenantMixin, TimestampMixin, Base):
    """One training round of a project: its phases run in order."""

    __tablename__ = "executions"
    __table_args__ = (sa.UniqueConstraint("project_id", "round"),)

    project_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    round: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default=RoundStatus.RUNNING)
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Phase(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "phases"
    __table_args__ = (sa.UniqueConstraint("execution_id", "name"),)

    execution_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    project_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(32), default=PhaseStatus.INIT)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    instance_type: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    instance_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    progress: Mapped[float | None] = mapped_column(nullable=True)
    outputs: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
