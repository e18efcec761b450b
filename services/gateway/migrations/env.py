"""Alembic environment of the gateway service (schema ``gateway`` on PostgreSQL, or SQLite)."""

from gateway.models import Base

from shared.db.migrations import run_alembic_env

run_alembic_env(Base.metadata)
