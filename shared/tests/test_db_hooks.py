"""The after-commit hook on PostgreSQL and SQLite: outer commits only, never after a rollback."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.db import Database, after_commit


@pytest.fixture
async def db(database_url):
    url, schema = database_url
    database = Database(url, schema)
    yield database
    await database.dispose()


async def test_runs_once_after_the_outer_commit_only(db) -> None:
    calls: list[str] = []
    async with db.session() as session:
        after_commit(session, lambda: calls.append("wake"), key="relay")
        after_commit(session, lambda: calls.append("wake again"), key="relay")  # one per key
        after_commit(session, lambda: calls.append("start"))
        async with session.begin_nested():  # a savepoint released is not the commit
            await session.execute(sa.text("SELECT 1"))
        assert calls == []
    assert calls == ["wake", "start"]
    async with db.session() as session:  # a later transaction of another session: nothing left over
        await session.execute(sa.text("SELECT 1"))
    assert calls == ["wake", "start"]


async def test_forgotten_when_the_transaction_rolls_back(db) -> None:
    calls: list[str] = []
    async with db.sessionmaker() as session:
        after_commit(session, lambda: calls.append("rolled back"))
        await session.execute(sa.text("SELECT 1"))
        await session.rollback()
        after_commit(session, lambda: calls.append("committed"))
        await session.execute(sa.text("SELECT 1"))
        await session.commit()
    assert calls == ["committed"]
