"""ORM tables of the trainer service (schema ``trainer`` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import IdMixin, TenantMixin, TimestampMixin, UTCDateTime, make_base
from shared.messaging import messaging_tables

Base = make_base()
messaging = messaging_tables(Base.metadata)

JOB_STATUSES = ("creating", "pending", "running", "completed", "failed", "terminating", "terminated", "abnormal")
FINAL_STATUSES = ("completed", "failed", "terminated", "abnormal")


class TrainingJob(IdMixin, TenantMixin, TimestampMixin, Base):
    """One training job: what to train, its lease while a worker runs it, and what came out."""

    __tablename__ = "training_jobs"

    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    project_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    dataset_id: Mapped[str] = mapped_column(sa.String(64))
    dataset_version_id: Mapped[str] = mapped_column(sa.String(64))
    task_type: Mapped[str] = mapped_column(sa.String(40))
    flavor: Mapped[str] = mapped_column(sa.String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    budget_seconds: Mapped[float] = mapped_column(sa.Float)
    labels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    phase: Mapped[str | None] = mapped_column(sa.String(40))
    phase_timings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    best_metric: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    logs: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    # The lease: the worker holding the job, until when, and which run (attempt) of the job it is.
    worker_id: Mapped[str | None] = mapped_column(sa.String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempt: Mapped[int] = mapped_column(sa.Integer, default=0)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)

    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    engine: Mapped[str | None] = mapped_column(sa.String(80))
    candidate: Mapped[str | None] = mapped_column(sa.String(200))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    curves: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    package_uri: Mapped[str | None] = mapped_column(sa.String(1024))
    stopped_early: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(16))
    error_code: Mapped[str | None] = mapped_column(sa.String(40))
    error_msg: Mapped[str | None] = mapped_column(sa.Text)

    def event_fields(self) -> dict[str, Any]:
        """The fields every ``training.job.*`` event carries."""
        return {
            "job_id": self.id,
            "project_id": self.project_id,
            "dataset_id": self.dataset_id,
            "dataset_version_id": self.dataset_version_id,
            "task_type": self.task_type,
        }


class PublishedVersion(IdMixin, TenantMixin, TimestampMixin, Base):
    """Read model of the dataset versions published (``dataset.version.published.v1``)."""

    __tablename__ = "published_versions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version_id"),)

    dataset_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    version_id: Mapped[str] = mapped_column(sa.String(64))
    version_name: Mapped[str] = mapped_column(sa.String(64))
    dataset_type: Mapped[int] = mapped_column(sa.Integer)
    dataset_type_name: Mapped[str] = mapped_column(sa.String(40))
    manifest_uri: Mapped[str] = mapped_column(sa.String(1024))
    train_ratio: Mapped[float] = mapped_column(sa.Float)
    sample_count: Mapped[int] = mapped_column(sa.Integer)
    train_count: Mapped[int] = mapped_column(sa.Integer)
    eval_count: Mapped[int] = mapped_column(sa.Integer)
    labels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    label_column: Mapped[str | None] = mapped_column(sa.String(256))
    table_schema: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
