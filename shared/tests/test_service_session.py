"""A route's transaction is committed before its answer leaves: a client that reads right after a write sees
it, and a write whose commit fails is not answered 2xx. (FastAPI ends a ``yield`` dependency after the response
is sent unless it is declared ``scope="function"``.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.types import Message

from shared.db import after_commit
from shared.service import SessionDep
from shared.testing.db import database_with


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "session_notes"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
async def db(database_url):
    database = await database_with(database_url, _Base.metadata)
    yield database
    await database.dispose()


def _app(db, order: list[str]) -> FastAPI:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(db=db)

    @app.post("/notes/{note_id}")
    async def add(note_id: int, session: SessionDep) -> dict[str, int]:
        after_commit(session, lambda: order.append("commit"))
        session.add(_Note(id=note_id))  # flushed by the commit, where a duplicate id fails
        return {"id": note_id}

    return app


async def _post(app: FastAPI, path: str, order: list[str]) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            order.append("answer")
            status.append(message["status"])

    try:
        await app(scope, receive, send)
    except Exception:  # noqa: BLE001 - an error after no answer is the server's 500
        if not status:
            status.append(500)
    return status[0]


async def test_the_commit_comes_before_the_answer(db) -> None:
    order: list[str] = []
    assert await _post(_app(db, order), "/notes/1", order) == 200
    assert order == ["commit", "answer"]
    async with db.session() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(_Note))).scalar() == 1


async def test_a_failed_commit_is_not_answered_as_a_success(db) -> None:
    order: list[str] = []
    app = _app(db, order)
    assert await _post(app, "/notes/7", order) == 200
    assert await _post(app, "/notes/7", order) == 500  # the duplicate id fails at the commit
    assert order == ["commit", "answer", "answer"]
