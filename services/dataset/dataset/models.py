"""ORM tables of the dataset service (schema ``dataset`` on PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, IdMixin, TenantMixin, TimestampMixin, UTCDateTime, service_metadata
from shared.db.lease import LeaseMixin
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class DatasetStatus(IntEnum):
    """ModelArts's dataset status codes."""

    NORMAL = 1
    PUBLISHING = 6
    IMPORTING = 8


class TaskStatus(StrEnum):
    """An import (or synchronisation) task's status."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class VersionStatus(StrEnum):
    """A dataset version's status: ``NORMAL`` once published."""

    QUEUED = "QUEUED"
    CREATING = "CREATING"
    NORMAL = "NORMAL"
    FAILED = "FAILED"


UNFINISHED_TASKS = (TaskStatus.QUEUED, TaskStatus.RUNNING)
UNFINISHED_VERSIONS = (VersionStatus.QUEUED, VersionStatus.CREATING)


class Dataset(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "datasets"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    dataset_type: Mapped[int] = mapped_column(sa.Integer)
    input_path: Mapped[str] = mapped_column(sa.String(1024))
    work_path: Mapped[str] = mapped_column(sa.String(1024))
    label_column: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    with_column_header: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    table_schema: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON, nullable=True)
    status: Mapped[int] = mapped_column(sa.Integer, default=DatasetStatus.NORMAL)


class Sample(IdMixin, TenantMixin, Base):
    __tablename__ = "samples"
    __table_args__ = (
        sa.UniqueConstraint("dataset_id", "source_key"),
        sa.Index("ix_samples_dataset_listing", "dataset_id", "created_at", "id"),
        sa.Index("ix_samples_dataset_labeled", "dataset_id", "labeled"),
    )

    dataset_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(1024))
    # The object's s3:// URI; text objects: '<uri>#<line>' (one object file holds many samples).
    source_key: Mapped[str] = mapped_column(sa.String(1100))
    source: Mapped[str] = mapped_column(sa.String(1100))
    text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    sample_type: Mapped[int] = mapped_column(sa.Integer)
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    width: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    row_count: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # Sound: the clip's length in seconds (the check sums it per class); None for other types.
    duration: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    labeled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The label names again, on the row, so a page of samples is one query (sample_labels serves the filter).
    labels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Time of the labeling event last applied (events can arrive out of order; an older one never wins).
    labels_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    usage: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    import_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SampleLabel(Base):
    """Read model of the labeling service's annotations: which label names a sample carries."""

    __tablename__ = "sample_labels"
    __table_args__ = (sa.Index("ix_sample_labels_dataset_name", "dataset_id", "name"),)

    sample_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(sa.String(32))


class DeletedSource(TenantMixin, Base):
    """The source key of a deleted sample: imports and synchronisations skip its file ("the deleted images
    cannot be recovered"), whatever the delete did with the file. A user's upload of the same name forgets it."""

    __tablename__ = "deleted_sources"

    dataset_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    source_key: Mapped[str] = mapped_column(sa.String(1100), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportTask(IdMixin, TenantMixin, TimestampMixin, LeaseMixin, Base):
    __tablename__ = "import_tasks"

    dataset_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    import_path: Mapped[str] = mapped_column(sa.String(1024))
    import_type: Mapped[str] = mapped_column(sa.String(16))  # dir | manifest
    kind: Mapped[str] = mapped_column(sa.String(16), default="import")  # import | sync
    import_annotations: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=TaskStatus.QUEUED)
    total_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    processed_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    added_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    annotated_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # Per-file problems that did not reject the file (a table part's breaches of the check's rules).
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DatasetVersion(IdMixin, TenantMixin, TimestampMixin, LeaseMixin, Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "name"),)

    dataset_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    train_ratio: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16), default=VersionStatus.CREATING)
    manifest_uri: Mapped[str | None] = mapped_column(sa.String(1100), nullable=True)
    sample_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    train_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    eval_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    labels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    statistics: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    table_schema: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON, nullable=True)
    label_column: Mapped[str | None] = mapped_column(sa.String(256), nullable=True)
    error_msg: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    check_result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
