"""Alembic environment of the registry service (schema ``registry`` on PostgreSQL, or SQLite)."""

from registry.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
