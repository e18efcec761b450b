"""ORM tables of the registry service (schema ``registry`` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import TYPE_ANNOTATION_MAP, IdMixin, TenantMixin, TimestampMixin, UTCDateTime, service_metadata
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class VersionStatus(StrEnum):
    """A model version's status: ``published`` versions are deployable and exportable."""

    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"  # the package could not be registered (the version keeps its number and the reason)


VERSION_STATUSES = tuple(status.value for status in VersionStatus)


class AIApplication(IdMixin, TenantMixin, TimestampMixin, Base):
    """An AI application (a "model" in the ModelArts API): named after its project, holds versions."""

    __tablename__ = "ai_applications"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.UniqueConstraint("tenant_id", "project_id"),
    )

    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    project_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    task_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    # The last version number handed out: incremented under a row lock, so versions never collide or skip.
    last_seq: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    versions: Mapped[list[ModelVersion]] = relationship(
        back_populates="application", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class ModelVersion(IdMixin, TenantMixin, TimestampMixin, Base):
    """One version 0.0.N of an AI application: its package and lineage."""

    __tablename__ = "model_versions"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "seq"),
        sa.UniqueConstraint("tenant_id", "training_job_id"),
    )

    application_id: Mapped[str] = mapped_column(
        sa.ForeignKey("ai_applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    version: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=VersionStatus.PUBLISHING)
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    package_uri: Mapped[str | None] = mapped_column(sa.String(1024), nullable=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    task_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    engine: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    labels: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)
    training_job_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    dataset_version_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    source_type: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="auto")
    install_type: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=lambda: ["real-time"])
    description: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")

    application: Mapped[AIApplication] = relationship(back_populates="versions", lazy="raise")


class ServiceUsage(TenantMixin, Base):
    """Which model versions each real-time service uses, learnt from the inference service's events.

    A version (or model) in use by a service that is not stopped cannot be deleted.
    """

    __tablename__ = "service_usages"

    service_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    versions: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, nullable=False, default=list)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
