"""Alembic environment of the dataset service (schema ``dataset`` on PostgreSQL, or SQLite)."""

from dataset.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
