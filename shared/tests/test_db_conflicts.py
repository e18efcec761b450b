"""Conflicts PostgreSQL resolves by aborting one transaction: recognised and run again (real PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, Database, IdMixin, service_metadata
from shared.db.conflicts import is_conflict, retry_conflicts
from shared.testing.db import database_with


class Base(DeclarativeBase):
    metadata = service_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Counter(IdMixin, Base):
    __tablename__ = "counters"
    value: Mapped[int] = mapped_column(default=0)


@pytest.fixture
async def db(postgres_url):
    database = await database_with(postgres_url, Base.metadata)
    yield database
    await database.dispose()


async def _rows(db: Database) -> tuple[str, str]:
    async with db.session() as session:
        a, b = Counter(), Counter()
        session.add_all([a, b])
        await session.flush()
        return a.id, b.id


async def _bump_both(db: Database, first: str, second: str, both_hold_one: asyncio.Barrier) -> None:
    """Lock ``first``, wait until the other transaction holds its own first row, then take ``second``."""
    async with db.session() as session:
        await session.execute(sa.update(Counter).where(Counter.id == first).values(value=Counter.value + 1))
        await both_hold_one.wait()
        await session.execute(sa.update(Counter).where(Counter.id == second).values(value=Counter.value + 1))


async def test_a_deadlock_is_a_conflict_and_the_unit_of_work_runs_again(db: Database) -> None:
    a, b = await _rows(db)
    barrier = asyncio.Barrier(2)
    attempts = {"ab": 0, "ba": 0}
    errors: list[BaseException] = []

    async def unit(name: str, first: str, second: str) -> None:
        async for attempt in retry_conflicts():
            with attempt:
                attempts[name] += 1
                try:
                    await _bump_both(
                        db, first, second, barrier if attempts[name] == 1 else asyncio.Barrier(1)
                    )
                except Exception as exc:
                    errors.append(exc)
                    raise

    await asyncio.wait_for(asyncio.gather(unit("ab", a, b), unit("ba", b, a)), timeout=30)
    # PostgreSQL aborted exactly one of the two crossed transactions as a deadlock; it ran again and both
    # increments of both rows are there.
    assert len(errors) == 1 and is_conflict(errors[0]), errors
    assert sorted(attempts.values()) == [1, 2]
    async with db.session() as session:
        values = (await session.scalars(sa.select(Counter.value).order_by(Counter.id))).all()
    assert values == [2, 2]


def test_other_errors_are_not_conflicts() -> None:
    class Driver(Exception):
        sqlstate = "23505"  # unique_violation: running it again gives the same answer

    assert not is_conflict(ValueError("x"))
    assert not is_conflict(Driver())
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = type("Deadlock", (Exception,), {"sqlstate": "40P01"})()
    assert is_conflict(wrapped)
