"""Database fixtures: a fresh PostgreSQL schema or SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.context import new_id
from shared.db import Database
from shared.testing.infra import POSTGRES_URL, require_tcp

__all__ = ["database_url", "database_with", "postgres_url"]


def _fresh_postgres_schema() -> Iterator[tuple[str, str]]:
    url = make_url(POSTGRES_URL)
    require_tcp("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    schema = f"t_{new_id()[:12]}"
    yield POSTGRES_URL, schema
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(async URL, schema) for an empty database; the PostgreSQL schema is dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", "main"
        return
    yield from _fresh_postgres_schema()


@pytest.fixture
def postgres_url() -> Iterator[tuple[str, str]]:
    """(async URL, schema) of a fresh PostgreSQL schema (distributed-mode tests)."""
    yield from _fresh_postgres_schema()


async def database_with(url_and_schema: tuple[str, str], metadata: sa.MetaData) -> Database:
    """A :class:`Database` on ``database_url``'s database with ``metadata``'s tables created (the caller
    disposes it): for tests of ``shared`` that bring their own small tables."""
    url, schema = url_and_schema
    database = Database(url, schema)
    async with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return database
