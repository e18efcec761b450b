"""ORM tables of the gateway service (schema ``gateway`` on PostgreSQL): API keys and webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, IdMixin, TenantMixin, TimestampMixin, service_metadata
from shared.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


messaging = messaging_tables(Base.metadata)


class ApiKey(IdMixin, TenantMixin, TimestampMixin, Base):
    """A public credential. Only its SHA-256 is stored; ``key_prefix`` lets a user recognise it."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(sa.String(64))
    key_prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    roles: Mapped[str] = mapped_column(sa.String(64), doc="comma-separated: admin, developer, viewer")
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Webhook(IdMixin, TenantMixin, TimestampMixin, Base):
    """An integration's URL and the event types (glob patterns) it wants, signed with its secret."""

    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(sa.String(2048))
    event_types: Mapped[list[Any]] = mapped_column(sa.JSON)
    secret: Mapped[str] = mapped_column(sa.String(128))
    active: Mapped[bool] = mapped_column(default=True)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(IdMixin, TenantMixin, TimestampMixin, Base):
    """One event to deliver to one webhook; retried with backoff until delivered or out of attempts."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    event_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(128))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    response_status: Mapped[int | None] = mapped_column(nullable=True)

    __table_args__ = (sa.UniqueConstraint("webhook_id", "event_id"),)
