"""Alembic environment of the trainer service (schema ``trainer`` on PostgreSQL, or SQLite)."""

from trainer.models import Base
from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
