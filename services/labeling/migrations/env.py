"""Alembic environment of the labeling service (schema ``labeling`` on PostgreSQL, or SQLite)."""

from labeling.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
