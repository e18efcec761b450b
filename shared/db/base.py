"""Declarative base, column types and mixins every service's ORM models use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.context import new_id

__all__ = [
    "NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "IdMixin",
    "TenantMixin",
    "TimestampMixin",
    "UTCDateTime",
    "service_metadata",
    "utcnow",
]

# Deterministic constraint names make migrations portable between PostgreSQL and SQLite and let
# Alembic drop a constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A service's declarative base, written out in its models.py so type checkers see a class:
#
#     class Base(DeclarativeBase):
#         metadata = service_metadata()
#         type_annotation_map = TYPE_ANNOTATION_MAP
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UTCDateTime()}


def service_metadata() -> sa.MetaData:
    """A service's own metadata (its tables, one schema per service), with the naming convention."""
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    """A random 32-hex string primary key: safe to expose, unguessable across tenants."""

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)


class TenantMixin:
    """Every resource row belongs to a tenant; repositories filter on it in every query."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(sa.String(64), nullable=False, index=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )
