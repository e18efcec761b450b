"""Rules of real-time services: create, start/stop, config updates, delete, history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from inference.errors import ServiceBusy, ServiceNameExists, UnknownModelVersion, VersionNotDeployable
from inference.models import ACTIVE, LEAVING, PENDING_WORK, RealTimeService, ServiceEvent, ServiceStatus
from inference.repository import EventRepository, ServiceRepository
from inference.schemas import ConfigEntry, Schedule, ServiceCreate, ServiceUpdate, ShadowConfig
from inference.specs import canonical_specification, triton_kind
from shared.db import Page, after_commit, utcnow
from shared.errors import ErrorDetail, ExeMLError, InvalidInput
from shared.events.inference import ServedVersion, ServiceDeploying
from shared.service import ServiceRuntime

__all__ = [
    "RealTimeServices",
    "due_time_for",
    "live_entries",
    "published_version",
    "record",
    "served_versions",
    "shadow_entry",
]

DEFAULT_SCHEDULE_HOURS = 1


def served_versions(*configs: list[dict[str, Any]] | None) -> list[ServedVersion]:
    seen: dict[tuple[str, str], ServedVersion] = {}
    for config in configs:
        for e in config or []:
            seen.setdefault(
                (e["model_id"], e["model_version"]),
                ServedVersion(model_id=e["model_id"], model_version=e["model_version"], weight=e["weight"]),
            )
    return list(seen.values())


def live_entries(config: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that answer requests (not the shadow)."""
    return [e for e in config if not e.get("shadow")]


def shadow_entry(config: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The config's shadow entry (``"shadow": true``, weight 0, ``share`` percent mirrored), if any."""
    return next((e for e in config if e.get("shadow")), None)


def _shadow_config(config: list[dict[str, Any]]) -> ShadowConfig | None:
    entry = shadow_entry(config)
    return None if entry is None else ShadowConfig.model_validate(entry)


def due_time_for(hours: int | None) -> datetime | None:
    """When a service started now stops itself (``None``: auto stop off)."""
    if hours is None:
        return None
    return utcnow() + timedelta(hours=hours)


async def record(
    session: AsyncSession,
    svc: RealTimeService,
    info: str,
    *,
    kind: str = "event",
    abnormal: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """One line of a service's event list (``kind`` event) or update history (``kind`` update)."""
    session.add(
        ServiceEvent(
            tenant_id=svc.tenant_id,
            service_id=svc.id,
            kind=kind,
            event_info=info,
            event_type="abnormal" if abnormal else "normal",
            detail=detail,
        )
    )
    await session.flush()


class RealTimeServices:
    def __init__(self, runtime: ServiceRuntime, session: AsyncSession, tenant_id: str) -> None:
        self.runtime, self.session, self.tenant_id = runtime, session, tenant_id
        self.services = ServiceRepository(session, tenant_id)
        self.events = EventRepository(session, tenant_id)

    async def create(self, body: ServiceCreate) -> RealTimeService:
        if await self.services.by_name(body.service_name):
            raise ServiceNameExists(
                f"a service named {body.service_name} exists",
                details=[ErrorDetail(rule="service_name_unique", msg="name taken", field="service_name")],
            )
        entries = await self._resolve(body.config)
        schedule = body.schedule if body.schedule is not None else [Schedule(duration=DEFAULT_SCHEDULE_HOURS)]
        svc = RealTimeService(
            name=body.service_name,
            description=body.description,
            status=ServiceStatus.DEPLOYING,
            progress=0,
            config=[],
            target_config=entries,
            generation=1,
            schedule_hours=schedule[0].duration if schedule else None,
        )
        await self.services.add(svc)
        await record(self.session, svc, "deploying: loading model versions on Triton")
        await self._emit_deploying(svc, entries)
        return svc

    def _forget_cached(self, service_id: str) -> None:
        """Predictions in this process see the change at once (others within the cache's TTL)."""
        cache = self.runtime.state.get("config_cache")
        if cache is not None:
            cache.forget(service_id)
            after_commit(self.session, lambda: cache.forget(service_id), key=("forget", service_id))

    async def update(self, service_id: str, body: ServiceUpdate) -> RealTimeService:
        svc = await self.services.get(service_id)
        self._forget_cached(svc.id)
        self._refuse_when_busy(svc, body)
        if body.status is not None:  # ModelArts: with status, the other fields are ignored
            await (self._start(svc) if body.status == ServiceStatus.RUNNING else self._stop(svc))
            return svc
        if body.description is not None:
            svc.description = body.description
        if body.schedule is not None:
            svc.schedule_hours = body.schedule[0].duration if body.schedule else None
            if svc.status in ACTIVE:
                svc.due_time = due_time_for(svc.schedule_hours)
            await record(
                self.session, svc, f"auto stop set to {svc.schedule_hours or 'off'} h", kind="update"
            )
        if body.config is not None or "shadow" in body.model_fields_set:
            config = body.config or [ConfigEntry.model_validate(e) for e in live_entries(svc.config)]
            shadow = body.shadow if "shadow" in body.model_fields_set else _shadow_config(svc.config)
            await self._change_config(svc, config, shadow)
        await self.session.flush()
        return svc

    async def delete(self, service_id: str) -> None:
        svc = await self.services.get(service_id)
        self._forget_cached(svc.id)
        if svc.status == ServiceStatus.DELETING:
            return
        svc.status, svc.transition_at = ServiceStatus.DELETING, utcnow()
        await record(self.session, svc, "deleting")

    # -- transitions --------------------------------------------------------------------------------

    def _refuse_when_busy(self, svc: RealTimeService, body: ServiceUpdate) -> None:
        busy = LEAVING if body.status is not None else PENDING_WORK
        if svc.status in busy or (svc.target_config is not None and svc.status in ACTIVE):
            raise ServiceBusy(
                f"service {svc.name} is {svc.status}{' and updating' if svc.target_config else ''}: try again later"
            )

    async def search(
        self, *, name: str | None, status: str | None, offset: int, limit: int
    ) -> Page[RealTimeService]:
        return await self.services.search(name=name, status=status, offset=offset, limit=limit)

    async def get(self, service_id: str) -> RealTimeService:
        return await self.services.get(service_id)

    async def history(self, service_id: str, kind: str, *, offset: int, limit: int) -> Page[ServiceEvent]:
        """The service's events (``event``: deploying, running, failures) or its config updates (``update``),
        newest first."""
        await self.services.get(service_id)
        return await self.events.of(service_id, kind, offset=offset, limit=limit)

    async def _start(self, svc: RealTimeService) -> None:
        if svc.status in ACTIVE or svc.status == ServiceStatus.DEPLOYING:
            return
        # Resolve the versions again: one may have been deleted while the service was stopped.
        stored = svc.config or svc.target_config or []
        if not stored:
            raise ServiceBusy(f"service {svc.name} has no config to start: give one with PUT config")
        live = [ConfigEntry.model_validate(e) for e in live_entries(stored)]
        entries = await self._resolve(live, _shadow_config(stored))
        svc.status, svc.progress, svc.error_msg, svc.transition_at = (
            ServiceStatus.DEPLOYING,
            0,
            None,
            utcnow(),
        )
        svc.target_config, svc.config, svc.generation = entries, [], svc.generation + 1
        await record(self.session, svc, "starting: loading model versions on Triton")
        await self._emit_deploying(svc, svc.target_config)

    async def _stop(self, svc: RealTimeService) -> None:
        if svc.status == ServiceStatus.STOPPED:
            return
        svc.status, svc.stop_reason, svc.transition_at = ServiceStatus.STOPPING, "user", utcnow()
        await record(self.session, svc, "stopping")

    async def _change_config(
        self, svc: RealTimeService, config: list[ConfigEntry], shadow: ShadowConfig | None
    ) -> None:
        if not config:
            raise ServiceBusy(f"service {svc.name} has no config: give one with PUT config")
        entries = await self._resolve(config, shadow)
        before = [_public(e) for e in svc.config]
        if svc.status not in ACTIVE:
            # A stopped or failed service is deployed again with the new config.
            await record(
                self.session,
                svc,
                "config replaced; deploying",
                kind="update",
                detail={"before": before, "after": [_public(e) for e in entries], "result": "deploying"},
            )
            svc.status, svc.progress, svc.error_msg, svc.transition_at = (
                ServiceStatus.DEPLOYING,
                0,
                None,
                utcnow(),
            )
            svc.target_config, svc.config, svc.generation = entries, [], svc.generation + 1
            await self._emit_deploying(svc, entries)
            return
        if _same_deployment(svc.config, entries):
            # Only the weights (or the shadow's share) change: no model to load, the next request sees it.
            new = {_entry_key(e): e for e in entries}
            svc.config = [
                e | {k: new[_entry_key(e)][k] for k in ("weight", "share") if k in new[_entry_key(e)]}
                for e in svc.config
            ]
            await record(
                self.session,
                svc,
                "traffic weights updated",
                kind="update",
                detail={"before": before, "after": [_public(e) for e in svc.config], "result": "succeeded"},
            )
            return
        svc.target_config, svc.generation = entries, svc.generation + 1
        await record(
            self.session,
            svc,
            "config update: loading the new model versions",
            kind="update",
            detail={"before": before, "after": [_public(e) for e in entries], "result": "in_progress"},
        )
        await self._emit_deploying(svc, svc.config, entries)

    async def _emit_deploying(self, svc: RealTimeService, *configs: list[dict[str, Any]]) -> None:
        event = ServiceDeploying(service_id=svc.id, service_name=svc.name, models=served_versions(*configs))
        # The commit of this outbox row also wakes the reconciler (see inference.lifespan).
        await self.runtime.outbox.add(self.session, event, subject=svc.id, tenant_id=self.tenant_id)

    async def _resolve(
        self, config: list[ConfigEntry], shadow: ShadowConfig | None = None
    ) -> list[dict[str, Any]]:
        """Each entry (and the shadow, last) with its version's package and task type, from the registry."""
        entries = [await self._resolve_entry(entry, i) for i, entry in enumerate(config)]
        if shadow is not None:
            entry = await self._resolve_entry(shadow.as_entry(), "shadow")
            entries.append(entry | {"shadow": True, "share": shadow.share})
        task_types = {e["task_type"] for e in entries}
        if len(task_types) > 1:
            raise InvalidInput(
                f"the versions of one service must share a task type, not {sorted(task_types)}",
                details=[ErrorDetail(rule="task_type_mixed", msg="mixed task types", field="config")],
            )
        return entries

    async def _resolve_entry(self, entry: ConfigEntry, index: int | str) -> dict[str, Any]:
        kind = triton_kind(entry.specification, self.runtime.settings.gpu_available, index)
        version = await self._version(entry, index)
        return (
            entry.model_dump()
            | {"specification": canonical_specification(entry.specification)}
            | {
                "model_name": version["model_name"],
                "task_type": version["task_type"],
                "package_uri": version["package_uri"],
                "kind": kind,
                "source_type": version["source_type"],
            }
        )

    async def _version(self, entry: ConfigEntry, index: int | str) -> dict[str, Any]:
        field = f"config.{index}" if isinstance(index, int) else index
        return await published_version(
            self.runtime, self.tenant_id, entry.model_id, entry.model_version, field
        )


async def published_version(
    runtime: ServiceRuntime, tenant_id: str, model_id: str, model_version: str, field: str
) -> dict[str, Any]:
    """The registry's record of a published model version (with its ``model_name``); ``field`` names the
    request's config entry in the errors."""
    path = f"/v1/models/{model_id}"
    try:
        model = await runtime.peers.get_json("registry", path, tenant_id=tenant_id)
        version = await runtime.peers.get_json(
            "registry", f"{path}/versions/{model_version}", tenant_id=tenant_id
        )
    except ExeMLError as exc:
        if exc.status_code != 404:
            raise
        raise UnknownModelVersion(
            f"model {model_id} version {model_version} does not exist",
            details=[ErrorDetail(rule="model_version_unknown", msg=exc.error_msg, field=f"{field}.model_id")],
        ) from exc
    if version["model_status"] != "published":
        raise VersionNotDeployable(
            f"model version {model_version} is {version['model_status']}, not published",
            details=[ErrorDetail(rule="model_not_published", msg="not deployable", field=field)],
        )
    return dict(version) | {"model_name": model["model_name"]}


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("model_id", "model_version", "weight", "specification", "instance_count", "shadow", "share")
    return {k: entry[k] for k in keys if k in entry}


def _entry_key(entry: dict[str, Any]) -> tuple[str, str, bool]:
    """A version appears once live and at most once as the shadow."""
    return entry["model_id"], entry["model_version"], bool(entry.get("shadow"))


def _same_deployment(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    def shape(entries: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {(*_entry_key(e), e["specification"], e["instance_count"]) for e in entries}

    return len(current) == len(new) and shape(current) == shape(new)
