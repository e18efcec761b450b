"""Async engine and unit-of-work sessions for one service's database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = ["Database", "engine_options", "sync_url"]


def engine_options(url: str, schema: str | None) -> dict[str, Any]:
    """Driver options: PostgreSQL sessions live in the service's schema; SQLite waits on locks."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql" and schema:
        return {"connect_args": {"options": f"-c search_path={schema}"}, "pool_pre_ping": True}
    if backend == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {}


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (Alembic and scripts run synchronously)."""
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
    return parsed.set(drivername=drivers.get(parsed.get_backend_name(), parsed.drivername)).render_as_string(
        hide_password=False
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One service's engine plus a session factory.

    ``session()`` is the unit of work: it commits when the block ends normally and rolls back on an
    exception. Code inside calls ``flush()``, never ``commit()``.
    """

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **engine_options(url, schema))
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
