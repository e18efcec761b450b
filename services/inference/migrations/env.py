"""Alembic environment of the inference service (schema ``inference`` on PostgreSQL, or SQLite)."""

from inference.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
