"""Alembic environment of the workflow service (schema ``workflow`` on PostgreSQL, or SQLite)."""

from workflow.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
