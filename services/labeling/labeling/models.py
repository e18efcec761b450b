"""ORM tables of the labeling service (schema ``labeling`` on PostgreSQL).

``datasets`` and ``samples`` are a read model of the dataset service, filled from its events: the labeling
service never reads the dataset service's tables. ``labels`` and ``annotations`` are owned here. An
annotation points at its label by id, so renaming a label renames it on every sample at once.
"""

from __future__ import annotations

from datetime import datetime
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
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class Dataset(TenantMixin, TimestampMixin, Base):
    """What labeling knows of a dataset: its type decides the annotation rules.

    A deleted dataset stays as a tombstone (``deleted``) so a late ``samples.added`` cannot revive it.
    """

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    dataset_type: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    deleted: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )


class Sample(TenantMixin, Base):
    """A sample of a dataset as announced by ``dataset.samples.added.v1`` (image size for box checks)."""

    __tablename__ = "samples"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("datasets.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(1100), nullable=False)
    sample_type: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    width: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Label(IdMixin, TenantMixin, TimestampMixin, Base):
    """One label of a dataset's label set."""

    __tablename__ = "labels"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "dataset_id", "name"),)

    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("datasets.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    color: Mapped[str | None] = mapped_column(sa.String(7), nullable=True)
    shortcut: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)


class Annotation(IdMixin, TenantMixin, Base):
    """One label on one sample; for object detection one rectangle (pixels, origin top-left).

    The rectangle's columns are ``box_*``: PostgreSQL reserves ``xmin`` and ``xmax`` as system columns.
    """

    __tablename__ = "annotations"
    __table_args__ = (sa.Index("ix_annotations_tenant_dataset", "tenant_id", "dataset_id"),)

    dataset_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    sample_id: Mapped[str] = mapped_column(sa.ForeignKey("samples.id"), nullable=False, index=True)
    label_id: Mapped[str] = mapped_column(sa.ForeignKey("labels.id"), nullable=False, index=True)
    xmin: Mapped[float | None] = mapped_column("box_xmin", sa.Float, nullable=True)
    ymin: Mapped[float | None] = mapped_column("box_ymin", sa.Float, nullable=True)
    xmax: Mapped[float | None] = mapped_column("box_xmax", sa.Float, nullable=True)
    ymax: Mapped[float | None] = mapped_column("box_ymax", sa.Float, nullable=True)
    pose: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="Unspecified")
    truncated: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    occluded: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    difficult: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    annotated_by: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="human")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def bndbox(self) -> dict[str, float] | None:
        if self.xmin is None or self.ymin is None or self.xmax is None or self.ymax is None:
            return None
        return {"xmin": self.xmin, "ymin": self.ymin, "xmax": self.xmax, "ymax": self.ymax}


class PrelabelTask(IdMixin, TenantMixin, TimestampMixin, Base):
    """Model-assisted labeling: a real-time service's predictions asked for the unlabeled samples of a dataset.

    The task is state, not a message: the labeling service's loop claims ``pending`` tasks (and ``running``
    ones a stopped process left), so a restart resumes where it was (samples with a suggestion of this task
    are done).
    """

    __tablename__ = "prelabel_tasks"
    __table_args__ = (sa.Index("ix_prelabel_tasks_tenant_dataset", "tenant_id", "dataset_id"),)

    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("datasets.id"), nullable=False)
    service_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending", index=True)
    sample_ids: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    processed_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failed_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    error_msg: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Suggestion(IdMixin, TenantMixin, Base):
    """A model's suggested annotations for one unlabeled sample. Not an annotation: the sample counts as
    labeled only once a person accepts (or corrects) it; labeling the sample by hand drops it."""

    __tablename__ = "suggestions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "dataset_id", "sample_id"),)

    dataset_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    sample_id: Mapped[str] = mapped_column(sa.ForeignKey("samples.id"), nullable=False, index=True)
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("prelabel_tasks.id"), nullable=False, index=True)
    # [{"name": str, "score": float, "bndbox": {xmin, ymin, xmax, ymax} | None}], best first.
    predictions: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)
    uncertainty: Mapped[float] = mapped_column(sa.Float, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
