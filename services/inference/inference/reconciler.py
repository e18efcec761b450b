"""The reconciler: brings Triton in line with the services' rows, and stops services at their due time.

Long work is state, not a request: a create, start, stop, config update or delete only changes the row;
this loop (in the worker process, or in the embedded process) loads and unloads Triton models and moves
the row on. A lease on the row (``shared.db.lease``, renewed while the work runs) keeps two workers from
working on one service at once. Config updates load
the new models first, switch the row to them (requests follow at once), then unload the old models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from inference.models import ACTIVE, LEAVING, PENDING_WORK, RealTimeService, ServiceStatus
from inference.service import due_time_for, live_entries, record, served_versions
from inference.triton.client import ModelFiles, TritonError, TritonModels
from shared.db import utcnow
from shared.db.lease import Leases, holder_name, keep_lease
from shared.events.inference import ServiceDeleted, ServiceFailed, ServiceRunning, ServiceStopped
from shared.logging import get_logger
from shared.service import ServiceRuntime

__all__ = ["Reconciler", "tick_until_stopped"]

log = get_logger(__name__)


async def tick_until_stopped(
    stop: asyncio.Event,
    wake: asyncio.Event,
    interval: float,
    tick: Callable[[], Awaitable[object]],
    name: str,
) -> None:
    """Awaits ``tick()`` until ``stop`` is set, again every ``interval`` seconds or as soon as ``wake`` is set;
    a failed round is logged and the next one comes (the reconciler's and the batch runner's loop)."""
    while not stop.is_set():
        try:
            await tick()
        except Exception as exc:
            log.exception(f"{name} round failed", error=repr(exc))
        waits = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        wake.clear()


LEASES = Leases(RealTimeService)
LEASE_SECONDS = 60.0  # renewed every 12 s while a reconciler works on a service; a dead one's is free after


class Reconciler:
    def __init__(self, runtime: ServiceRuntime, triton: TritonModels) -> None:
        self.runtime, self.triton = runtime, triton
        self.holder = holder_name("reconciler")
        self._wake = asyncio.Event()
        self._working: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_health = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until ``stop`` is set, every ``reconcile_interval_seconds`` or when woken."""
        interval = self.runtime.settings.reconcile_interval_seconds
        try:
            await tick_until_stopped(stop, self._wake, interval, self.tick, "reconcile")
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tick(self) -> None:
        await self._auto_stop()
        now = asyncio.get_running_loop().time()
        if now - self._last_health >= self.runtime.settings.health_interval_seconds:
            self._last_health = now
            await self._check_health()
        for service_id in await self._pending():
            if service_id in self._working:
                continue
            self._working.add(service_id)
            task = asyncio.create_task(self._work(service_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _auto_stop(self) -> None:
        async with self.runtime.db.session() as session:
            due = (
                (
                    await session.execute(
                        sa.select(RealTimeService).where(
                            RealTimeService.status.in_(ACTIVE), RealTimeService.due_time <= utcnow()
                        )
                    )
                )
                .scalars()
                .all()
            )
            for svc in due:
                svc.status, svc.stop_reason, svc.transition_at = ServiceStatus.STOPPING, "auto_stop", utcnow()
                await record(session, svc, "auto stop: due time reached")

    async def _check_health(self) -> None:
        """``concerning`` while a model of a running service is not ready on Triton (ModelArts: some
        instances unhealthy), ``running`` again once all are."""
        async with self.runtime.db.session() as session:
            services = (
                (
                    await session.execute(
                        sa.select(RealTimeService).where(
                            RealTimeService.status.in_(ACTIVE),
                            RealTimeService.target_config.is_(None),
                            LEASES.free(utcnow()),
                        )
                    )
                )
                .scalars()
                .all()
            )
            for svc in services:
                # A shadow answers no one: its model being gone is counted on it, not the service's health.
                names = [e["triton_model"] for e in live_entries(svc.config) if "triton_model" in e]
                ready = all([await self.triton.is_ready(name) for name in names])
                status = ServiceStatus.RUNNING if ready else ServiceStatus.CONCERNING
                if status != svc.status:
                    svc.status, svc.transition_at = status, utcnow()
                    await record(
                        session,
                        svc,
                        "all models ready again" if ready else "a model is not ready on Triton",
                        abnormal=not ready,
                    )
                    self._forget(svc.id)

    async def _pending(self) -> list[str]:
        async with self.runtime.db.session() as session:
            stmt = sa.select(RealTimeService.id).where(
                sa.or_(RealTimeService.status.in_(PENDING_WORK), RealTimeService.target_config.is_not(None)),
                LEASES.free(utcnow()),
            )
            return list((await session.execute(stmt)).scalars())

    async def _claim(self, service_id: str) -> RealTimeService | None:
        async with self.runtime.db.session() as session:
            if not await LEASES.claim(session, service_id, self.holder, LEASE_SECONDS):
                return None
            svc = await session.get(RealTimeService, service_id)
            if svc is not None:
                session.expunge(svc)
            return svc

    def _forget(self, service_id: str) -> None:
        cache = self.runtime.state.get("config_cache")
        if cache is not None:
            cache.forget(service_id)

    async def _work(self, service_id: str) -> None:
        try:
            svc = await self._claim(service_id)
            if svc is None:
                return
            async with keep_lease(self.runtime.db, LEASES, service_id, self.holder, LEASE_SECONDS):
                await self._apply(svc)
        except Exception as exc:
            log.exception("reconciling a service failed", service_id=service_id, error=repr(exc))
        finally:
            self._forget(service_id)
            await self._release(service_id)
            self._working.discard(service_id)

    async def _apply(self, svc: RealTimeService) -> None:
        if svc.status in LEAVING:
            await self._unload_all(svc)
            await self._finish_stop(svc.id)
            self._forget(svc.id)
        elif svc.target_config is not None:
            await self._roll_out(svc)

    async def _release(self, service_id: str) -> None:
        async with self.runtime.db.session() as session:
            await LEASES.release(session, service_id, self.holder)

    # -- rolling out a target config ------------------------------------------------------------------

    async def _roll_out(self, svc: RealTimeService) -> None:
        target = [dict(e) for e in svc.target_config or []]
        loaded: list[str] = []
        try:
            for i, entry in enumerate(target):
                entry["triton_model"] = f"svc-{svc.id}-g{svc.generation}-{i}"
                files = await ModelFiles.from_store(self.runtime.store, entry["package_uri"])
                await self.triton.load(
                    entry["triton_model"], files, instance_count=entry["instance_count"], kind=entry["kind"]
                )
                loaded.append(entry["triton_model"])
                await self._progress(svc.id, int(100 * (i + 1) / len(target)))
        except (TritonError, OSError, ValueError) as exc:
            await self._unload(loaded)
            await self._roll_out_failed(svc.id, str(exc))
            return
        old = await self._switch(svc.id, target)
        self._forget(svc.id)
        if old:
            await asyncio.sleep(self.runtime.settings.unload_grace_seconds)
            await self._unload(old)

    async def _progress(self, service_id: str, progress: int) -> None:
        async with self.runtime.db.session() as session:
            await session.execute(
                sa.update(RealTimeService)
                .where(RealTimeService.id == service_id)
                .values(progress=progress)
                .execution_options(synchronize_session=False)
            )

    async def _switch(self, service_id: str, target: list[dict[str, Any]]) -> list[str]:
        """Serve ``target`` from now on; returns the Triton models no longer needed."""
        async with self.runtime.db.session() as session:
            svc = await session.get(RealTimeService, service_id, with_for_update=True)
            if svc is None or svc.status in LEAVING:
                # Stopped or deleted while loading: the new models go too; the stop finishes the rest.
                if svc is not None:
                    svc.target_config = None
                return [e["triton_model"] for e in target]
            old = [e["triton_model"] for e in svc.config if "triton_model" in e]
            updating = svc.status in ACTIVE
            svc.config, svc.target_config, svc.progress, svc.error_msg = target, None, 100, None
            if updating:
                await record(
                    session, svc, "config update finished", kind="update", detail={"result": "succeeded"}
                )
            else:
                svc.status, svc.transition_at = ServiceStatus.RUNNING, utcnow()
                svc.due_time = due_time_for(svc.schedule_hours)
                await record(session, svc, "running")
            event = ServiceRunning(service_id=svc.id, service_name=svc.name, models=served_versions(target))
            await self.runtime.outbox.add(session, event, subject=svc.id, tenant_id=svc.tenant_id)
            return [name for name in old if name not in {e["triton_model"] for e in target}]

    async def _roll_out_failed(self, service_id: str, error: str) -> None:
        log.warning("deployment failed", service_id=service_id, error=error)
        async with self.runtime.db.session() as session:
            svc = await session.get(RealTimeService, service_id, with_for_update=True)
            if svc is None:
                return
            target, svc.target_config = svc.target_config, None
            if svc.status in ACTIVE:  # a failed update leaves the running config serving
                await record(
                    session,
                    svc,
                    f"config update failed: {error}",
                    kind="update",
                    abnormal=True,
                    detail={"result": "failed", "error_msg": error},
                )
                return
            if svc.status in LEAVING:
                return
            svc.status, svc.error_msg, svc.transition_at = ServiceStatus.FAILED, error, utcnow()
            svc.config = [
                {k: v for k, v in e.items() if k != "triton_model"} for e in target or []
            ]  # to retry
            await record(session, svc, f"deployment failed: {error}", abnormal=True)
            event = ServiceFailed(
                service_id=svc.id,
                service_name=svc.name,
                error_msg=error[:2000],
                models=served_versions(svc.config),
            )
            await self.runtime.outbox.add(session, event, subject=svc.id, tenant_id=svc.tenant_id)

    # -- stopping and deleting ------------------------------------------------------------------------

    async def _unload_all(self, svc: RealTimeService) -> None:
        names = [e["triton_model"] for e in [*svc.config, *(svc.target_config or [])] if "triton_model" in e]
        await self._unload(names)

    async def _unload(self, names: list[str]) -> None:
        for name in names:
            try:
                await self.triton.unload(name)
            except TritonError as exc:
                log.warning("unload failed", model=name, error=str(exc))

    async def _finish_stop(self, service_id: str) -> None:
        async with self.runtime.db.session() as session:
            svc = await session.get(RealTimeService, service_id, with_for_update=True)
            if svc is None:
                return
            models = served_versions(svc.config, svc.target_config)
            if svc.status == ServiceStatus.DELETING:
                await self.runtime.outbox.add(
                    session,
                    ServiceDeleted(service_id=svc.id, service_name=svc.name, models=models),
                    subject=svc.id,
                    tenant_id=svc.tenant_id,
                )
                await session.delete(svc)
                return
            reason = svc.stop_reason or "user"
            if not svc.config and svc.target_config:  # stopped while deploying: keep what to start again
                svc.config = [{k: v for k, v in e.items() if k != "triton_model"} for e in svc.target_config]
            svc.status, svc.due_time, svc.target_config, svc.transition_at = (
                ServiceStatus.STOPPED,
                None,
                None,
                utcnow(),
            )
            svc.progress = 0
            await record(session, svc, "stopped" + (" by auto stop" if reason == "auto_stop" else ""))
            await self.runtime.outbox.add(
                session,
                ServiceStopped(service_id=svc.id, service_name=svc.name, models=models, reason=reason),
                subject=svc.id,
                tenant_id=svc.tenant_id,
            )
