"""Database access: async SQLAlchemy 2 engine, unit-of-work sessions, base and mixins, repositories,
and one Alembic tree per service."""

from shared.db.base import (
    NAMING_CONVENTION,
    TYPE_ANNOTATION_MAP,
    IdMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    service_metadata,
    utcnow,
)
from shared.db.engine import Database
from shared.db.hooks import after_commit
from shared.db.repository import Page, Repository

__all__ = [
    "NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "Database",
    "IdMixin",
    "Page",
    "Repository",
    "TenantMixin",
    "TimestampMixin",
    "UTCDateTime",
    "after_commit",
    "service_metadata",
    "utcnow",
]
