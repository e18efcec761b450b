"""The batch runner: works through batch services chunk by chunk, under a lease (ADR 0021).

A worker claims a batch service with the shared lease (``shared.db.lease``), lists its inputs once, loads
its model on Triton (``batch-<id>``) and answers chunk after chunk: chunk ``k``'s lines are written as one
object, then one guarded ``UPDATE`` moves ``next_chunk`` from ``k`` to ``k + 1`` and renews the lease. A
worker that dies between the two leaves ``next_chunk`` at ``k``: its successor (once the lease runs out, or
at once after a clean shutdown, which releases it) writes the same part again, so every input is answered
exactly once in the results. A stop request is seen at the next checkpoint.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from inference.batch.answers import answer_chunk
from inference.batch.inputs import TABLE, InputReader, take_inventory
from inference.batch.results import (
    PARTS,
    batch_event,
    csv_results,
    encode_lines,
    part_uri,
    result_uris,
)
from inference.models import BATCH_ACTIVE, BatchService, BatchStatus
from inference.reconciler import tick_until_stopped
from inference.triton.client import ModelFiles, TritonError, TritonModels
from shared.db import utcnow
from shared.db.lease import LeaseLost, Leases, holder_name, keep_lease
from shared.events.inference import (
    BatchServiceEvent,
    BatchServiceFailed,
    BatchServiceFinished,
    BatchServiceProgressed,
    BatchServiceStarted,
    BatchServiceStopped,
)
from shared.logging import get_logger
from shared.service import ServiceRuntime

__all__ = ["BatchRunner"]

log = get_logger(__name__)
LEASES = Leases(BatchService)
MAX_RETRIES = 3  # failed attempts (Triton, storage) before the batch service fails


class BatchRunner:
    def __init__(self, runtime: ServiceRuntime, triton: TritonModels) -> None:
        self.runtime, self.triton = runtime, triton
        self.holder = holder_name("batch")
        self.lease_seconds = runtime.settings.batch_lease_seconds
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Take batch services while ``stop`` is unset, checking every ``reconcile_interval_seconds`` or
        when woken; on the way out the jobs in hand are cancelled and their leases released."""
        interval = self.runtime.settings.reconcile_interval_seconds
        try:
            await tick_until_stopped(stop, self._wake, interval, self.tick, "batch")
        finally:
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def tick(self) -> None:
        free = self.runtime.settings.batch_slots - len(self._tasks)
        if free <= 0:
            return
        async with self.runtime.db.session() as session:
            stmt = (
                sa.select(BatchService.id)
                .where(BatchService.status.in_(BATCH_ACTIVE), LEASES.free(utcnow()))
                .order_by(BatchService.created_at)
                .limit(free)
            )
            ids = list((await session.execute(stmt)).scalars())
        for service_id in ids:
            if service_id not in self._tasks:
                self._tasks[service_id] = asyncio.create_task(self._work(service_id))

    async def _work(self, service_id: str) -> None:
        failed: Exception | None = None
        try:
            job = await self._claim(service_id)
            if job is None:
                return
            async with keep_lease(self.runtime.db, LEASES, service_id, self.holder, self.lease_seconds):
                await BatchJob(self, job).run()
        except LeaseLost:
            log.warning("batch service taken over", service_id=service_id)
        except Exception as exc:
            log.exception("batch attempt failed", service_id=service_id, error=repr(exc))
            failed = exc
        finally:
            self._tasks.pop(service_id, None)
            with suppress(Exception):  # a lease not given back runs out
                await asyncio.shield(self._let_go(service_id, failed))

    async def _claim(self, service_id: str) -> BatchService | None:
        async with self.runtime.db.session() as session:
            where = [BatchService.status.in_(BATCH_ACTIVE)]
            if not await LEASES.claim(session, service_id, self.holder, self.lease_seconds, where=where):
                return None
            job = await session.get(BatchService, service_id)
            if job is not None:
                session.expunge(job)
            return job

    async def _let_go(self, service_id: str, failed: Exception | None) -> None:
        """Release the lease; after a failed attempt keep it a while instead (a pause before the retry),
        and fail the batch service at the last attempt."""
        async with self.runtime.db.session() as session:
            if failed is None:
                await LEASES.release(session, service_id, self.holder)
                return
            job = await session.get(BatchService, service_id, with_for_update=True)
            if job is None or job.lease_holder != self.holder:
                return
            job.retries += 1
            job.lease_expires_at = utcnow() + timedelta(seconds=2**job.retries)
            if job.retries >= MAX_RETRIES:
                error = f"{type(failed).__name__}: {failed}"[:2000]
                job.status, job.error_msg, job.finished_at = BatchStatus.FAILED, error, utcnow()
                event = batch_event(BatchServiceFailed, job, error_msg=error)
                await self.runtime.outbox.add(session, event, subject=job.id, tenant_id=job.tenant_id)
        if failed is not None:
            await self._unload(service_id)

    async def _unload(self, service_id: str) -> None:
        try:
            await self.triton.unload(model_name(service_id))
        except TritonError as exc:
            log.warning("unload failed", service_id=service_id, error=str(exc))


def model_name(service_id: str) -> str:
    return f"batch-{service_id}"


class BatchJob:
    """One worker's turn on one batch service, from where the last turn stopped."""

    def __init__(self, runner: BatchRunner, job: BatchService) -> None:
        self.runner, self.job = runner, job
        self.runtime, self.triton = runner.runtime, runner.triton
        self.storage = self.runtime.tenant_storage(job.tenant_id)
        self.model = model_name(job.id)

    async def run(self) -> None:
        job = self.job
        log.info("batch service taken up", service_id=job.id, status=job.status, next_chunk=job.next_chunk)
        if job.status == BatchStatus.DEPLOYING and not await self._start():
            return await self._finish(BatchStatus.STOPPED)  # stopped before it started
        if job.status == BatchStatus.STOPPING:
            return await self._finish(BatchStatus.STOPPED)
        chunks = math.ceil(job.total_inputs / job.chunk_size)
        if job.next_chunk < chunks:
            files = await ModelFiles.from_store(self.runtime.store, job.package_uri)
            await self.triton.load(self.model, files, instance_count=job.instance_count, kind=job.kind)
            if not await self._answer(chunks):
                return await self._finish(BatchStatus.STOPPED)
        await self._finish(BatchStatus.FINISHED)

    async def _start(self) -> bool:
        """List the inputs and go ``running``; False if a stop came first."""
        job = self.job
        inventory = await take_inventory(self.storage, job.src_path, job.task_type)
        job.inventory, job.total_inputs = inventory, sum(count for _, count in inventory)
        job.status, job.started_at = BatchStatus.RUNNING, utcnow()
        values = {
            "inventory": inventory,
            "total_inputs": job.total_inputs,
            "status": job.status,
            "started_at": job.started_at,
        }
        async with self.runtime.db.session() as session:
            where = [BatchService.status == BatchStatus.DEPLOYING]
            if await self._renew(session, where=where, values=values) is None:
                return False
            await self._emit(session, batch_event(BatchServiceStarted, job))
        return True

    async def _answer(self, chunks: int) -> bool:
        """Answer the chunks left; False when a stop was asked."""
        job = self.job
        assert job.inventory is not None
        reader = InputReader(self.storage, job.task_type, job.inventory)
        for chunk in range(job.next_chunk, chunks):
            start = chunk * job.chunk_size
            items = await reader.read(start, min(start + job.chunk_size, job.total_inputs))
            lines = await answer_chunk(self.triton, self.model, job.task_type, items)
            await self.storage.put(part_uri(job.dest_path, chunk), encode_lines(lines))
            failed = sum(1 for line in lines if "error" in line)
            if await self._checkpoint(chunk, start + len(items), failed) == BatchStatus.STOPPING:
                return False
        return True

    async def _checkpoint(self, chunk: int, done: int, failed: int) -> str:
        """Record chunk ``chunk`` as written (only if this worker still holds the lease and no one
        recorded it); returns the status, which tells of a stop request."""
        job = self.job
        before = job.progress
        progress = 100 * done // job.total_inputs
        values = {
            "next_chunk": chunk + 1,
            "done_inputs": done,
            "failed_inputs": job.failed_inputs + failed,
            "progress": progress,
        }
        async with self.runtime.db.session() as session:
            status = await self._renew(
                session,
                where=[BatchService.next_chunk == chunk],
                values=values,
                returning=BatchService.status,
            )
            if status is None:
                raise LeaseLost(f"batch service {job.id}: lease lost before chunk {chunk} was recorded")
            job.next_chunk, job.done_inputs, job.failed_inputs, job.progress = (
                chunk + 1,
                done,
                values["failed_inputs"],
                progress,
            )
            if progress // 10 > before // 10:
                await self._emit(session, batch_event(BatchServiceProgressed, job, progress=progress))
        return str(status)

    async def _finish(self, status: BatchStatus) -> None:
        """Write the result files from the parts, then record the end (guarded by the lease)."""
        job = self.job
        results = await self._write_results()
        job.status, job.finished_at = status, utcnow()
        if status == BatchStatus.FINISHED:
            job.progress = 100
        values = {"status": status, "finished_at": job.finished_at, "progress": job.progress}
        async with self.runtime.db.session() as session:
            if await self._renew(session, values=values) is None:
                raise LeaseLost(f"batch service {job.id}: lease lost before it was recorded {status}")
            kind = BatchServiceFinished if status == BatchStatus.FINISHED else BatchServiceStopped
            await self._emit(session, batch_event(kind, job, results=results))
        with suppress(Exception):  # left-over parts are harmless; the results are whole
            await self.storage.delete_prefix(f"{job.dest_path}{PARTS}/")
        await self.runner._unload(job.id)

    async def _write_results(self) -> list[str]:
        job = self.job
        parts = [await self.storage.get(part_uri(job.dest_path, k)) for k in range(job.next_chunk)]
        jsonl = b"".join(parts)
        uris = result_uris(job)
        await self.storage.put(uris[0], jsonl, content_type="application/x-ndjson")
        if job.task_type == TABLE:
            await self.storage.put(uris[1], csv_results(jsonl), content_type="text/csv")
        return uris

    async def _renew(
        self,
        session: AsyncSession,
        *,
        where: Iterable[sa.ColumnElement[bool]] = (),
        values: Mapping[str, Any] | None = None,
        returning: Any = None,
    ) -> Any:
        """The holder's guarded update of the row (with a lease renewal); None when the lease is lost."""
        return await LEASES.renew(
            session,
            self.job.id,
            self.runner.holder,
            self.runner.lease_seconds,
            where=where,
            values=values,
            returning=returning,
        )

    async def _emit(self, session: AsyncSession, event: BatchServiceEvent) -> None:
        await self.runtime.outbox.add(session, event, subject=self.job.id, tenant_id=self.job.tenant_id)
