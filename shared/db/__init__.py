"""Database access: async SQLAlchemy 2 engine, unit-of-work sessions, base and mixins, repositories,
and one Alembic tree per service."""

from shared.db.base import (
    NAMING_CONVENTION,
    IdMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    make_base,
    utcnow,
)
from shared.db.engine import Database
from shared.db.repository import Page, Repository

__all__ = [
    "NAMING_CONVENTION",
    "Database",
    "IdMixin",
    "Page",
    "Repository",
    "TenantMixin",
    "TimestampMixin",
    "UTCDateTime",
    "make_base",
    "utcnow",
]
