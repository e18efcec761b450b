"""Leases on PostgreSQL and SQLite: one holder at a time, heartbeats, sweeping, results with their events."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from trainer.config import Settings
from trainer.definition import SERVICE
from trainer.leases import Holder, claim, finish, heartbeat, redispatch_stale, sweep_expired
from trainer.models import TrainingJob

from shared.db import utcnow
from shared.service import build_runtime


@pytest.fixture
async def runtime(database_url, tmp_path):
    url, schema = database_url
    settings = Settings(
        mode="distributed",
        database_url=url,
        db_schema=schema,
        bus="memory",
        storage="local",
        storage_root=tmp_path / "objects",
        internal_token_secret="s" * 40,
    )
    runtime = build_runtime(SERVICE, settings)
    await runtime.migrate()
    yield runtime
    await runtime.db.dispose()


async def _job(runtime, **values) -> str:
    async with runtime.db.session() as session:
        job = TrainingJob(
            tenant_id="t1",
            name="j",
            dataset_id="d",
            dataset_version_id="v",
            task_type="predictive_analytics",
            flavor="cpu",
            parameters={},
            budget_seconds=60,
            labels=[],
            phase_timings=[],
            logs=[],
            attempts=[],
            status="pending",
            attempt=0,
            **values,
        )
        session.add(job)
        await session.flush()
        return job.id


async def _outbox_types(runtime) -> list[str]:
    table = runtime.outbox.table
    async with runtime.db.session() as session:
        return list((await session.execute(sa.select(table.c.event_type).order_by(table.c.id))).scalars())


async def _claim(runtime, job_id: str, worker: str, max_attempts: int = 3) -> TrainingJob | None:
    async with runtime.db.session() as session:
        return await claim(session, runtime.outbox, job_id, worker, 30, max_attempts)


async def _expire(runtime, job_id: str) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            sa.update(TrainingJob)
            .where(TrainingJob.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_one_holder_at_a_time(runtime) -> None:
    job_id = await _job(runtime)
    first = await _claim(runtime, job_id, "worker-a")
    assert first is not None and (first.status, first.attempt, first.worker_id) == ("running", 1, "worker-a")
    assert await _claim(runtime, job_id, "worker-b") is None  # the lease is held
    holder = Holder(job_id, "worker-a", 1)
    async with runtime.db.session() as session:
        assert await heartbeat(session, holder, 30, {"progress": 10.0}) == "running"
        assert await heartbeat(session, Holder(job_id, "worker-a", 2), 30, {}) is None
    await _expire(runtime, job_id)
    async with runtime.db.session() as session:  # a late heartbeat does not revive an expired lease
        assert await heartbeat(session, holder, 30, {}) is None
    second = await _claim(runtime, job_id, "worker-b")
    assert second is not None and (second.attempt, second.worker_id) == (2, "worker-b")
    async with runtime.db.session() as session:  # the old holder can no longer write a result
        assert await finish(session, runtime.outbox, holder, {}, {"status": "stopped"}) is None
    outcome = {
        "status": "ok",
        "engine": "e",
        "candidate": "c",
        "metrics": {"accuracy": 1.0},
        "curves": {},
        "candidates": [],
        "stopped_early": False,
        "package_uri": "s3://b/p",
        "labels": ["x"],
    }
    async with runtime.db.session() as session:
        done = await finish(session, runtime.outbox, Holder(job_id, "worker-b", 2), {"logs": ["ok"]}, outcome)
        assert done is not None and done.status == "completed" and done.package_uri == "s3://b/p"
    assert await _outbox_types(runtime) == [
        "training.job.started.v1",
        "training.job.started.v1",
        "training.job.succeeded.v1",
    ]


async def test_sweeper_redispatches_expired_leases_then_gives_up(runtime) -> None:
    job_id = await _job(runtime)
    stopping_id = await _job(runtime)
    await _claim(runtime, job_id, "worker-a", max_attempts=2)
    await _claim(runtime, stopping_id, "worker-a")
    async with runtime.db.session() as session:
        await session.execute(
            sa.update(TrainingJob).where(TrainingJob.id == stopping_id).values(status="terminating")
        )
    await _expire(runtime, job_id)
    await _expire(runtime, stopping_id)
    async with runtime.db.session() as session:
        assert sorted(await sweep_expired(session, runtime.outbox, max_attempts=2)) == sorted(
            [job_id, stopping_id]
        )
    async with runtime.db.session() as session:
        job = await session.get(TrainingJob, job_id)
        stopped = await session.get(TrainingJob, stopping_id)
        assert (job.status, job.worker_id, job.attempts[0]["outcome"]) == ("pending", None, "lease expired")
        assert stopped.status == "terminated"
    assert (await _outbox_types(runtime))[-2:] == ["trainer.jobs.cpu", "training.job.stopped.v1"]
    # Second run lost too: max_attempts reached, the job is abnormal and failed is announced.
    await _claim(runtime, job_id, "worker-b", max_attempts=2)
    await _expire(runtime, job_id)
    async with runtime.db.session() as session:
        assert await sweep_expired(session, runtime.outbox, max_attempts=2) == [job_id]
    async with runtime.db.session() as session:
        job = await session.get(TrainingJob, job_id)
        assert job.status == "abnormal" and job.error_code == "ModelArts.2793"
    assert (await _outbox_types(runtime))[-1] == "training.job.failed.v1"


async def test_long_pending_jobs_get_their_message_again(runtime) -> None:
    job_id = await _job(runtime)
    async with runtime.db.session() as session:
        assert await redispatch_stale(session, runtime.outbox, older_than_seconds=60) == []
        await session.execute(
            sa.update(TrainingJob)
            .where(TrainingJob.id == job_id)
            .values(updated_at=utcnow() - timedelta(minutes=5))
        )
    async with runtime.db.session() as session:
        assert await redispatch_stale(session, runtime.outbox, older_than_seconds=60) == [job_id]
    async with runtime.db.session() as session:  # touched: not re-sent again at the next sweep
        assert await redispatch_stale(session, runtime.outbox, older_than_seconds=60) == []
    assert await _outbox_types(runtime) == ["trainer.jobs.cpu"]
