"""Leases on training jobs: claim, heartbeat, finish, release, and the sweeper's re-dispatch.

These are the worker's queries, on the platform's one lease implementation (:mod:`shared.db.lease`, ADR 0002
and 0009) with the job's ``worker_id`` as holder. They act for every tenant (a worker serves the whole
platform), so they are not tenant-scoped; each is one guarded ``UPDATE``/``SELECT … FOR UPDATE`` so two
workers can never both hold a job: a claim succeeds only on a pending job or a running one whose lease has
expired, and every later write of the holder checks ``worker_id``, ``attempt`` and that its lease has not
expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utcnow
from shared.db.lease import Leases
from shared.events.training import JobFailed, JobStarted, JobStopped, JobSucceeded
from shared.messaging import Outbox
from trainer.dispatch import add_job_message
from trainer.errors import JobFailure
from trainer.models import HELD_STATUSES, JobStatus, TrainingJob

__all__ = [
    "LOST_ERROR",
    "Holder",
    "claim",
    "finish",
    "heartbeat",
    "redispatch_stale",
    "release",
    "sweep_expired",
]

LOST_ERROR = JobFailure.WORKERS_LOST


@dataclass(frozen=True)
class Holder:
    """Who holds a job: this worker, for this attempt."""

    job_id: str
    worker_id: str
    attempt: int


LEASES = Leases(TrainingJob, holder="worker_id")


def _this_run(holder: Holder) -> list[Any]:
    """The holder's run of the job, while it runs (the lease itself is checked by ``LEASES``)."""
    return [TrainingJob.attempt == holder.attempt, TrainingJob.status.in_(HELD_STATUSES)]


def _held(holder: Holder, now: datetime) -> list[Any]:
    return [TrainingJob.id == holder.job_id, LEASES.held_by(holder.worker_id, now), *_this_run(holder)]


async def claim(
    session: AsyncSession,
    outbox: Outbox,
    job_id: str,
    worker_id: str,
    lease_seconds: float,
    max_attempts: int,
) -> TrainingJob | None:
    """Take the job if it is pending or its holder's lease expired; None if another holds it or it ended."""
    now = utcnow()
    # A pending job has no lease; a running one is claimable once its lease is free (expired).
    claimable = sa.or_(
        TrainingJob.status == JobStatus.PENDING,
        sa.and_(TrainingJob.status == JobStatus.RUNNING, TrainingJob.attempt < max_attempts),
    )
    claimed = await LEASES.claim(
        session,
        job_id,
        worker_id,
        lease_seconds,
        where=[claimable],
        values={"status": JobStatus.RUNNING, "attempt": TrainingJob.attempt + 1, "updated_at": now},
    )
    if not claimed:
        return None
    job = (
        await session.execute(
            sa.select(TrainingJob).where(TrainingJob.id == job_id).execution_options(populate_existing=True)
        )
    ).scalar_one()
    job.started_at = job.started_at or now
    job.attempts = [
        *_close_last(job.attempts, "lease expired"),
        {"attempt": job.attempt, "worker_id": worker_id, "claimed_at": now.isoformat()},
    ]
    job.phase_timings = _next_phase(job.phase_timings, "starting", now)
    job.phase, job.progress = "starting", 0.0
    await outbox.add(
        session,
        JobStarted(**job.event_fields(), worker_id=worker_id, attempt=job.attempt),
        subject=job.id,
        tenant_id=job.tenant_id,
    )
    await session.flush()
    return job


def _close_last(attempts: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    if attempts and "ended_at" not in attempts[-1]:
        return [*attempts[:-1], {**attempts[-1], "outcome": attempts[-1].get("outcome", outcome)}]
    return list(attempts)


def _next_phase(timings: list[dict[str, Any]], phase: str, now: datetime) -> list[dict[str, Any]]:
    timings = list(timings or [])
    if timings and timings[-1].get("seconds") is None:
        started = datetime.fromisoformat(timings[-1]["started_at"])
        timings[-1] = {**timings[-1], "seconds": round((now - started).total_seconds(), 3)}
    return [*timings, {"phase": phase, "started_at": now.isoformat(), "seconds": None}]


async def heartbeat(
    session: AsyncSession, holder: Holder, lease_seconds: float, state: dict[str, Any]
) -> str | None:
    """Extend the lease and store progress; the job's status, or None when the lease is lost."""
    status: str | None = await LEASES.renew(
        session,
        holder.job_id,
        holder.worker_id,
        lease_seconds,
        where=_this_run(holder),
        values={"updated_at": utcnow(), **state},
        returning=TrainingJob.status,
    )
    return status


async def _held_job(session: AsyncSession, holder: Holder) -> TrainingJob | None:
    stmt = sa.select(TrainingJob).where(*_held(holder, utcnow())).with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def finish(
    session: AsyncSession, outbox: Outbox, holder: Holder, state: dict[str, Any], outcome: dict[str, Any]
) -> TrainingJob | None:
    """Write the run's outcome and its event in one transaction; None if the lease was lost meanwhile."""
    job = await _held_job(session, holder)
    if job is None:
        return None
    now = utcnow()
    for key, value in state.items():
        setattr(job, key, value)
    job.phase_timings = _next_phase(job.phase_timings, "done", now)[:-1]
    job.finished_at, job.lease_expires_at, job.phase = now, None, None
    kind, stopping = outcome["status"], job.status == JobStatus.TERMINATING
    job.quality, job.plan = outcome.get("quality"), outcome.get("plan")
    if kind == "ok":
        _apply_success(job, outcome, stopping)
        # The package's labels in class-index order; job.labels stays the version's (incremental rule).
        event: Any = JobSucceeded(
            **job.event_fields(),
            package_uri=job.package_uri,
            engine=job.engine,
            labels=outcome["labels"] or job.labels,
            metrics=job.metrics or {},
            best_metric=job.best_metric,
            stopped_early=job.stopped_early,
            quality=job.quality,
        )
    elif kind == "stopped":
        job.status = JobStatus.TERMINATED
        event = JobStopped(**job.event_fields(), reason=job.stop_reason or "user")
    else:
        job.status, job.error_code, job.error_msg = (
            JobStatus.FAILED,
            outcome["error_code"],
            outcome["error_msg"][:4000],
        )
        event = JobFailed(
            **job.event_fields(), error_code=job.error_code, error_msg=job.error_msg, quality=job.quality
        )
    job.attempts = [
        *job.attempts[:-1],
        {**job.attempts[-1], "ended_at": now.isoformat(), "outcome": job.status},
    ]
    await outbox.add(session, event, subject=job.id, tenant_id=job.tenant_id)
    await session.flush()
    return job


def _apply_success(job: TrainingJob, outcome: dict[str, Any], stopping: bool) -> None:
    job.status, job.progress = JobStatus.COMPLETED, 100.0
    job.engine, job.candidate = outcome["engine"], outcome["candidate"]
    job.metrics, job.curves, job.candidates = outcome["metrics"], outcome["curves"], outcome["candidates"]
    job.package_uri = outcome["package_uri"]
    job.stopped_early = bool(outcome["stopped_early"]) or stopping
    if job.stopped_early and job.stop_reason is None:
        job.stop_reason = "budget"


async def release(session: AsyncSession, outbox: Outbox, holder: Holder) -> bool:
    """Give a held job back (worker shutting down): pending again, re-dispatched at once."""
    job = await _held_job(session, holder)
    if job is None:
        return False
    if job.status == JobStatus.TERMINATING:
        job.status, job.finished_at = JobStatus.TERMINATED, utcnow()
        await outbox.add(
            session,
            JobStopped(**job.event_fields(), reason=job.stop_reason or "user"),
            subject=job.id,
            tenant_id=job.tenant_id,
        )
    else:
        job.status = JobStatus.PENDING
        await add_job_message(
            session, outbox, job_id=job.id, tenant_id=job.tenant_id, flavor=job.flavor, attempt=job.attempt
        )
    job.worker_id, job.lease_expires_at, job.phase = None, None, "queued"
    job.attempts = [
        *job.attempts[:-1],
        {**job.attempts[-1], "ended_at": utcnow().isoformat(), "outcome": "released"},
    ]
    await session.flush()
    return True


async def sweep_expired(
    session: AsyncSession, outbox: Outbox, max_attempts: int, limit: int = 50
) -> list[str]:
    """Jobs whose holder stopped heartbeating: re-dispatched, or abnormal after ``max_attempts`` runs."""
    now = utcnow()
    jobs = await LEASES.lock_expired(session, where=[TrainingJob.status.in_(HELD_STATUSES)], limit=limit)
    for job in jobs:
        await _expire(session, outbox, job, max_attempts, now)
    await session.flush()
    return [job.id for job in jobs]


async def _expire(
    session: AsyncSession, outbox: Outbox, job: TrainingJob, max_attempts: int, now: datetime
) -> None:
    expired_at = job.lease_expires_at.isoformat() if job.lease_expires_at else None
    job.attempts = (
        [*job.attempts[:-1], {**job.attempts[-1], "outcome": "lease expired", "lease_expired_at": expired_at}]
        if job.attempts
        else []
    )
    job.worker_id, job.lease_expires_at = None, None
    event: Any
    if job.status == JobStatus.TERMINATING:
        job.status, job.finished_at, job.phase = JobStatus.TERMINATED, now, None
        event = JobStopped(**job.event_fields(), reason=job.stop_reason or "user")
    elif job.attempt >= max_attempts:
        job.status, job.finished_at, job.phase = JobStatus.ABNORMAL, now, None
        job.error_code, job.error_msg = (
            LOST_ERROR,
            f"the worker running the job was lost {job.attempt} time(s)",
        )
        event = JobFailed(**job.event_fields(), error_code=job.error_code, error_msg=job.error_msg)
    else:
        job.status, job.phase = JobStatus.PENDING, "queued"
        job.phase_timings = _next_phase(job.phase_timings, "queued", now)
        await add_job_message(
            session, outbox, job_id=job.id, tenant_id=job.tenant_id, flavor=job.flavor, attempt=job.attempt
        )
        return
    await outbox.add(session, event, subject=job.id, tenant_id=job.tenant_id)


async def redispatch_stale(
    session: AsyncSession, outbox: Outbox, older_than_seconds: float, limit: int = 50
) -> list[str]:
    """Pending jobs untouched for a while get a fresh job message.

    A job message published before any worker declared its queue is unroutable and lost; a duplicate is
    harmless (the claim is atomic), so re-sending now and then is the safety net.
    """
    now = utcnow()
    stmt = (
        sa.select(TrainingJob)
        .where(
            TrainingJob.status == JobStatus.PENDING,
            TrainingJob.updated_at < now - timedelta(seconds=older_than_seconds),
        )
        .order_by(TrainingJob.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())
    for job in jobs:
        job.updated_at = now
        await add_job_message(
            session, outbox, job_id=job.id, tenant_id=job.tenant_id, flavor=job.flavor, attempt=job.attempt
        )
    await session.flush()
    return [job.id for job in jobs]
