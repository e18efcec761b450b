"""The lease module on PostgreSQL and SQLite: one holder at a time, renewal, release, loss."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, Database, IdMixin, service_metadata, utcnow
from shared.db.lease import LeaseLost, LeaseMixin, Leases, holder_name, keep_lease
from shared.testing.db import database_with


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Chore(IdMixin, LeaseMixin, Base):
    __tablename__ = "chores"
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")


LEASES = Leases(Chore)


@pytest.fixture
async def db(database_url):
    database = await database_with(database_url, Base.metadata)
    yield database
    await database.dispose()


async def _chore(db: Database) -> str:
    async with db.session() as session:
        chore = Chore()
        session.add(chore)
        await session.flush()
        return chore.id


async def _expire(db: Database, chore_id: str) -> None:
    async with db.session() as session:
        await session.execute(
            sa.update(Chore)
            .where(Chore.id == chore_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_one_holder_until_expiry_then_another(db) -> None:
    chore_id = await _chore(db)
    async with db.session() as s:
        assert await LEASES.claim(
            s, chore_id, "a", 30, where=[Chore.status == "queued"], values={"status": "busy"}
        )
    async with db.session() as s:
        assert not await LEASES.claim(s, chore_id, "b", 30)  # held
        assert await LEASES.renew(s, chore_id, "a", 30) == chore_id
        assert await LEASES.renew(s, chore_id, "b", 30) is None  # not the holder
        assert await LEASES.renew(s, chore_id, "a", 30, returning=Chore.status) == "busy"
    await _expire(db, chore_id)
    async with db.session() as s:
        assert await LEASES.renew(s, chore_id, "a", 30) is None  # a late heartbeat does not revive it
        assert not await LEASES.claim(s, chore_id, "b", 30, where=[Chore.status == "queued"])  # caller's rule
        assert await LEASES.claim(s, chore_id, "b", 30)
    async with db.session() as s:
        assert not await LEASES.release(s, chore_id, "a")  # the old holder cannot free it
        assert await LEASES.release(s, chore_id, "b")
        assert await LEASES.claim(s, chore_id, "c", 30)  # free at once


async def test_lock_expired_finds_only_lapsed_leases(db) -> None:
    held, lapsed, never = await _chore(db), await _chore(db), await _chore(db)
    async with db.session() as s:
        assert await LEASES.claim(s, held, "a", 30)
        assert await LEASES.claim(s, lapsed, "b", 30, values={"status": "busy"})
    await _expire(db, lapsed)
    async with db.session() as s:
        assert [c.id for c in await LEASES.lock_expired(s)] == [lapsed]
        assert await LEASES.lock_expired(s, where=[Chore.status == "queued"]) == []
        assert never not in [c.id for c in await LEASES.lock_expired(s, limit=10)]


async def test_keep_lease_renews_while_the_work_runs(db) -> None:
    chore_id = await _chore(db)
    async with db.session() as s:
        assert await LEASES.claim(s, chore_id, "a", 0.5)
    async with keep_lease(db, LEASES, chore_id, "a", 0.5, every=0.1):
        await asyncio.sleep(1.2)  # more than twice the lease: renewed meanwhile
        async with db.session() as s:
            assert not await LEASES.claim(s, chore_id, "b", 0.5)


async def test_work_is_cancelled_when_the_lease_is_lost(db) -> None:
    chore_id = await _chore(db)
    async with db.session() as s:
        assert await LEASES.claim(s, chore_id, "a", 30)
    await _expire(db, chore_id)
    async with db.session() as s:
        assert await LEASES.claim(s, chore_id, "b", 30)  # taken over while "a" still works
    steps: list[int] = []
    with pytest.raises(LeaseLost):
        async with keep_lease(db, LEASES, chore_id, "a", 30, every=0.05):
            for step in range(100):
                steps.append(step)
                await asyncio.sleep(0.05)
    assert len(steps) < 20


def test_holder_names_are_unique() -> None:
    assert holder_name("x") != holder_name("x") and holder_name("x").startswith("x:")
