"""One run of a claimed job: the child process, the heartbeat, stop, budget and lease enforcement."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import queue
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.events.training import JobProgressed
from shared.logging import get_logger
from shared.service import ServiceRuntime
from trainer.config import Settings
from trainer.leases import Holder, finish, heartbeat, release
from trainer.models import TrainingJob
from trainer.runner import ENGINE_ERROR, RESULT_FILE, RunSpec, run_training

__all__ = ["RunSupervisor", "UploadHistory"]

log = get_logger(__name__)
TICK_SECONDS = 0.2
OVERRUN_SHARE = 0.05  # the promise: wall time within the budget + 5 %


class UploadHistory:
    """What this worker measured of its last upload per task type: the next run reserves time from it."""

    def __init__(self) -> None:
        self.last: dict[str, dict[str, float]] = {}

    def record(self, task_type: str, upload: dict[str, Any] | None) -> None:
        if upload and upload.get("bytes"):
            self.last[task_type] = {
                "bytes": float(upload["bytes"]),
                "seconds": float(upload.get("seconds") or 0),
            }

    def hints(self, task_type: str) -> dict[str, Any]:
        last = self.last.get(task_type)
        if not last:
            return {}
        # A small upload is all latency: its rate would promise far too little for a large package.
        rate = last["bytes"] / last["seconds"] if last["bytes"] >= 1e6 and last["seconds"] > 0 else None
        return {"expected_package_bytes": int(last["bytes"]), "upload_bytes_per_second": rate}


class RunSupervisor:
    def __init__(
        self,
        runtime: ServiceRuntime[Settings],
        settings: Settings,
        holder: Holder,
        spec: RunSpec | dict[str, Any],
        uploads: UploadHistory | None = None,
    ) -> None:
        self.runtime, self.settings, self.holder, self.spec = runtime, settings, holder, spec
        self.uploads = uploads if uploads is not None else UploadHistory()
        self.state: dict[str, Any] = {"progress": 0.0, "phase": "starting", "best_metric": None, "logs": []}
        self.timings: list[dict[str, Any]] | None = None
        self.reported_phase: str | None = None
        self.event_fields: dict[str, Any] = {}
        self.tenant_id = ""

    async def run(self, worker_stop: asyncio.Event) -> None:
        budget = await self._load()
        if isinstance(self.spec, dict):  # the job cannot run at all: fail it now
            await self._finish(self.spec)
            return
        work_dir = Path(tempfile.mkdtemp(prefix=f"exeml-{self.holder.job_id}-", dir=self.settings.work_dir))
        try:
            await self._supervise(work_dir, worker_stop, budget)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    async def _supervise(self, work_dir: Path, worker_stop: asyncio.Event, budget: float) -> None:
        assert isinstance(self.spec, RunSpec)
        deadline = time.monotonic() + budget
        now_epoch = time.time()
        spec = replace(
            self.spec,
            work_dir=str(work_dir),
            deadline_epoch=now_epoch + budget,
            started_epoch=now_epoch,
            **self.uploads.hints(self.spec.task_type),
        )
        # The budget is held by the run itself (the engine's deadline leaves room for the upload); the kill is
        # the safety net for a run that does not stop, not the way budgets are kept: a loaded machine can
        # take seconds more to start a process or import an engine, and a model is worth those seconds.
        grace = self.settings.kill_grace_seconds
        started = time.monotonic()
        mp = multiprocessing.get_context("spawn")
        channel, stop = mp.Queue(), mp.Event()
        child = mp.Process(target=run_training, args=(spec, channel, stop), name=f"train-{spec.job_id}")
        child.start()
        self._log(
            f"attempt {spec.attempt} on worker {self.holder.worker_id}: budget {budget:.0f}s, pid {child.pid}"
        )
        lease_until = time.monotonic() + self.settings.lease_seconds
        next_beat = 0.0
        try:
            while child.exitcode is None:
                self._drain(channel)
                now = time.monotonic()
                if worker_stop.is_set():
                    _kill(child)
                    await self._release()
                    return
                if now >= deadline and not stop.is_set():
                    self._log("time budget reached: stopping with the best model so far")
                    stop.set()
                if now >= deadline + grace:
                    _kill(child)
                    self._drain(channel)
                    # A run that wrote its outcome but had not exited yet is done, not overdue.
                    done = (work_dir / RESULT_FILE).is_file()
                    await self._finish(
                        self._outcome(work_dir, None)
                        if done
                        else {
                            "status": "error",
                            "error_code": ENGINE_ERROR,
                            "error_msg": f"the run exceeded its budget of {budget:.0f}s and was killed",
                        }
                    )
                    return
                if now >= next_beat:
                    beat_started = time.monotonic()
                    status = await self._heartbeat()
                    if status == "lost":
                        _kill(child)
                        log.warning(
                            "lease lost: run killed", job_id=spec.job_id, worker_id=self.holder.worker_id
                        )
                        return
                    if status is not None:
                        lease_until = beat_started + self.settings.lease_seconds
                    if status == "terminating" and not stop.is_set():
                        self._log("stop requested: packaging the best model so far")
                        stop.set()
                    next_beat = now + self.settings.heartbeat_seconds
                if time.monotonic() >= lease_until:  # could not renew in time: someone may take the job
                    _kill(child)
                    log.warning("lease not renewed in time: run killed", job_id=spec.job_id)
                    return
                await asyncio.sleep(TICK_SECONDS)
            await asyncio.to_thread(child.join, 5)
            self._drain(channel)
            outcome = self._outcome(work_dir, child.exitcode)
            self.uploads.record(spec.task_type, outcome.get("upload"))
            took = time.monotonic() - started
            if took > budget * (1 + OVERRUN_SHARE):
                self._log(
                    f"the run took {took:.1f}s, {took / budget - 1:.0%} over its budget of {budget:.0f}s"
                )
            await self._finish(outcome)
        finally:
            if child.is_alive():
                _kill(child)
            channel.close()
            channel.cancel_join_thread()

    async def _load(self) -> float:
        """The job's budget; also its timings and logs so far, which the heartbeats extend."""
        async with self.runtime.db.session() as session:
            job = await session.get(TrainingJob, self.holder.job_id)
            assert job is not None
            self.timings = list(job.phase_timings or [])
            self.state["logs"] = list(job.logs or [])[-self.settings.logs_tail_lines :]
            self.event_fields, self.tenant_id = job.event_fields(), job.tenant_id
            return float(job.budget_seconds)

    def _outcome(self, work_dir: Path, exitcode: int | None) -> dict[str, Any]:
        path = work_dir / RESULT_FILE
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        return {
            "status": "error",
            "error_code": ENGINE_ERROR,
            "error_msg": f"the training process ended with exit code {exitcode} and no result",
        }

    # -- child messages -------------------------------------------------------------------------------
    def _drain(self, channel: Any) -> None:
        while True:
            try:
                kind, data = channel.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return
            if kind == "log":
                self._log(data["line"], stamp=False)
            elif kind == "progress":
                self._progress(data["percent"], data["phase"], data.get("metric"))

    def _progress(self, percent: float, phase: str, metric: dict[str, Any] | None) -> None:
        self.state["progress"] = round(max(self.state["progress"], percent), 2)
        if metric is not None:
            self.state["best_metric"] = metric
        if phase != self.state["phase"]:
            self.state["phase"] = phase
            self._phase_timing(phase)

    def _phase_timing(self, phase: str) -> None:
        now = datetime.now(UTC)
        timings = self.timings if self.timings is not None else []
        if timings and timings[-1].get("seconds") is None:
            started = datetime.fromisoformat(timings[-1]["started_at"])
            timings[-1] = {**timings[-1], "seconds": round((now - started).total_seconds(), 3)}
        timings.append({"phase": phase, "started_at": now.isoformat(), "seconds": None})
        self.timings = timings

    def _log(self, line: str, stamp: bool = True) -> None:
        text = f"{datetime.now(UTC):%H:%M:%S} {line}" if stamp else line
        self.state["logs"] = [*self.state["logs"], text][-self.settings.logs_tail_lines :]

    def _row_state(self) -> dict[str, Any]:
        return {**self.state, "phase_timings": list(self.timings or [])}

    # -- database -------------------------------------------------------------------------------------
    async def _heartbeat(self) -> str | None:
        """The job's status after renewing; "lost" when the lease is gone; None when the DB is unreachable."""
        try:
            async with self.runtime.db.session() as session:
                status = await heartbeat(session, self.holder, self.settings.lease_seconds, self._row_state())
                if status is not None and self.state["phase"] != self.reported_phase:
                    self.reported_phase = self.state["phase"]
                    await self.runtime.outbox.add(
                        session,
                        JobProgressed(
                            **self.event_fields,
                            progress=self.state["progress"],
                            phase=self.state["phase"],
                            best_metric=self.state["best_metric"],
                        ),
                        subject=self.holder.job_id,
                        tenant_id=self.tenant_id,
                    )
        except Exception as exc:  # noqa: BLE001  # unreachable database: None, the next beat tries again
            log.warning("heartbeat failed", job_id=self.holder.job_id, error=repr(exc))
            return None
        return status if status is not None else "lost"

    async def _finish(self, outcome: dict[str, Any]) -> None:
        if outcome.get("status") == "error":
            self._log(f"failed: {outcome.get('error_msg')}")
        for attempt in range(5):
            try:
                async with self.runtime.db.session() as session:
                    job = await finish(session, self.runtime.outbox, self.holder, self._row_state(), outcome)
                if job is None:
                    log.warning("lease lost before the result was written", job_id=self.holder.job_id)
                else:
                    log.info("job finished", job_id=job.id, status=job.status)
                return
            except Exception as exc:  # noqa: BLE001  # database hiccup: the lease still protects the job for a while
                log.warning("writing the result failed", job_id=self.holder.job_id, error=repr(exc))
                await asyncio.sleep(min(2.0**attempt, 10))

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            async with self.runtime.db.session() as session:
                await release(session, self.runtime.outbox, self.holder)


def _kill(child: Any) -> None:
    with contextlib.suppress(Exception):
        child.kill()
        child.join(5)
