"""ORM tables of the trainer service (schema ``trainer`` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, IdMixin, TenantMixin, TimestampMixin, UTCDateTime, service_metadata
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class JobStatus(StrEnum):
    """A training job's status, as ModelArts names them."""

    CREATING = "creating"
    PENDING = "pending"  # waiting for a worker (its job message is on the queue)
    RUNNING = "running"  # a worker holds the lease
    COMPLETED = "completed"
    FAILED = "failed"
    TERMINATING = "terminating"  # stop requested; the worker sees it at its next heartbeat
    TERMINATED = "terminated"
    ABNORMAL = "abnormal"  # the workers running it were lost too often


JOB_STATUSES = tuple(status.value for status in JobStatus)
FINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TERMINATED, JobStatus.ABNORMAL)
HELD_STATUSES = (JobStatus.RUNNING, JobStatus.TERMINATING)  # a worker holds the job's lease


class TrainingJob(IdMixin, TenantMixin, TimestampMixin, Base):
    """One training job: what to train, its lease while a worker runs it, and what came out."""

    __tablename__ = "training_jobs"

    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    project_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    project_name: Mapped[str | None] = mapped_column(sa.String(64))
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
    # The quality gate's record (model vs trivial baseline vs best simple candidate) and the engine's plan.
    quality: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    plan: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    stopped_early: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(16))
    error_code: Mapped[str | None] = mapped_column(sa.String(40))
    error_msg: Mapped[str | None] = mapped_column(sa.Text)

    def event_fields(self) -> dict[str, Any]:
        """The fields every ``training.job.*`` event carries."""
        return {
            "job_id": self.id,
            "project_id": self.project_id,
            "project_name": self.project_name,
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
