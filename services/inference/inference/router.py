"""HTTP routes of the inference service: real-time services (``/v1/services``) and predictions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from inference.models import STATUSES, RealTimeService
from inference.predict import extract_payload
from inference.repository import ServiceRepository
from inference.schemas import (
    Schedule,
    ServedConfig,
    ServiceCreate,
    ServiceEventList,
    ServiceEventRead,
    ServiceList,
    ServiceRead,
    ServiceUpdate,
    SpecificationList,
)
from inference.service import ACTIVE, RealTimeServices
from inference.specs import specifications
from inference.triton.client import TritonError
from shared.auth import PrincipalDep, require_role
from shared.errors import ErrorDetail, InvalidInput, ServiceUnavailable
from shared.service import RuntimeDep, ServiceRuntime, SessionDep

router = APIRouter(prefix="/v1/services", tags=["services"])
infer_router = APIRouter(prefix="/v1/infers", tags=["predictions"])
Writer = Depends(require_role("admin", "developer"))
STATUS_PATTERN = "^(" + "|".join(STATUSES) + ")$"


def _services(runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep) -> RealTimeServices:
    return RealTimeServices(runtime, session, principal.tenant_id)


ServicesDep = Annotated[RealTimeServices, Depends(_services)]


def _read(runtime: ServiceRuntime, svc: RealTimeService) -> ServiceRead:
    shown = svc.config or (svc.target_config if svc.status == "deploying" else None) or []
    pending = svc.target_config if svc.config and svc.target_config else None
    return ServiceRead(
        service_id=svc.id, service_name=svc.name, description=svc.description, status=svc.status,
        progress=svc.progress, error_msg=svc.error_msg,
        config=[ServedConfig.model_validate(e) for e in shown],
        pending_config=[ServedConfig.model_validate(e) for e in pending] if pending else None,
        schedule=[Schedule(duration=svc.schedule_hours)] if svc.schedule_hours else [],
        due_time=svc.due_time, invocation_times=svc.invocation_times, failed_times=svc.failed_times,
        access_address=f"{runtime.settings.public_base_url.rstrip('/')}/v1/infers/{svc.id}",
        publish_at=svc.created_at, update_time=svc.updated_at, transition_at=svc.transition_at,
    )


@router.get("/specifications", response_model=SpecificationList, summary="Deployable specifications")
async def list_specifications(runtime: RuntimeDep, _principal: PrincipalDep) -> SpecificationList:
    """The flavors ``config[].specification`` may name; GPU ones are open only where GPUs are available."""
    items = specifications(runtime.settings.gpu_available)
    return SpecificationList(items=items, total=len(items))


@router.post("", response_model=ServiceRead, status_code=201, dependencies=[Writer], summary="Deploy a service")
async def create_service(body: ServiceCreate, runtime: RuntimeDep, services: ServicesDep) -> ServiceRead:
    """Deploys one or more published model versions with traffic weights (integers summing to 100),
    1-5 compute nodes each and auto stop (default 1 h; ``[]`` turns it off). The service starts
    ``deploying`` and becomes ``running`` once Triton has loaded every version (or ``failed``)."""
    return _read(runtime, await services.create(body))


@router.get("", response_model=ServiceList, summary="List services")
async def list_services(
    runtime: RuntimeDep,
    services: ServicesDep,
    service_name: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ServiceList:
    """Real-time services of the tenant, newest first; filter by part of the name and by status."""
    page = await services.services.search(name=service_name, status=status, offset=offset, limit=limit)
    return ServiceList(items=[_read(runtime, s) for s in page.items], total=page.total)


@router.get("/{service_id}", response_model=ServiceRead, summary="Get a service")
async def get_service(service_id: str, runtime: RuntimeDep, services: ServicesDep) -> ServiceRead:
    """Status, progress, error, config, auto stop due time, invocation and failure counts."""
    return _read(runtime, await services.services.get(service_id))


@router.put("/{service_id}", response_model=ServiceRead, dependencies=[Writer], summary="Start, stop or update")
async def update_service(
    service_id: str, body: ServiceUpdate, runtime: RuntimeDep, services: ServicesDep
) -> ServiceRead:
    """``{"status": "running"}`` starts, ``{"status": "stopped"}`` stops (with ``status``, other fields are
    ignored). A new ``config`` of a running service rolls out without downtime: weight-only changes apply
    at once; new versions, nodes or specifications are loaded first, then traffic moves, then the old
    models are unloaded."""
    return _read(runtime, await services.update(service_id, body))


@router.delete("/{service_id}", status_code=202, dependencies=[Writer], summary="Delete a service")
async def delete_service(service_id: str, runtime: RuntimeDep, services: ServicesDep) -> ServiceRead:
    """The service goes ``deleting``; its models are unloaded and it disappears."""
    await services.delete(service_id)
    return _read(runtime, await services.services.get(service_id))


@router.get("/{service_id}/events", response_model=ServiceEventList, summary="Service events")
async def service_events(
    service_id: str, services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ServiceEventList:
    """What happened to the service (deploying, running, stopped, failures), newest first."""
    await services.services.get(service_id)
    page = await services.events.of(service_id, "event", offset=offset, limit=limit)
    return ServiceEventList(items=[ServiceEventRead.model_validate(e) for e in page.items], total=page.total)


@router.get("/{service_id}/logs", response_model=ServiceEventList, summary="Update history")
async def service_updates(
    service_id: str, services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ServiceEventList:
    """Config and schedule updates with the config before and after and their result, newest first."""
    await services.services.get(service_id)
    page = await services.events.of(service_id, "update", offset=offset, limit=limit)
    return ServiceEventList(items=[ServiceEventRead.model_validate(e) for e in page.items], total=page.total)


@infer_router.post("/{service_id}", summary="Predict", responses={200: {"description": "The model's answer"}})
async def predict(service_id: str, request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> JSONResponse:
    """Image: multipart ``images``; sound: multipart ``sound``; text: ``{"text": …}``; table:
    ``{"data": {"req_data": [{…}]}}``. Answers as ModelArts does; the header ``X-ExeML-Model-Version``
    names the version that answered. A payload the model cannot read is a 400 naming the rule."""
    config = await _serving_config(runtime, principal.tenant_id, service_id)
    failed = True
    try:
        payload, echo = await extract_payload(request, config[0]["task_type"], runtime.settings.max_payload_bytes)
        entry, answer = await _infer(runtime, service_id, principal.tenant_id, config, payload)
        if "error" in answer:
            err = answer["error"]
            raise InvalidInput(err["msg"], error_code="ModelArts.4200",
                               details=[ErrorDetail(rule=err["rule"], msg=err["msg"], field=err.get("field"))])
        failed = False
        return JSONResponse({**echo, **answer["ok"]}, headers={"X-ExeML-Model-Version": entry["model_version"]})
    finally:
        runtime.state["counters"].count(service_id, failed=failed)


async def _serving_config(
    runtime: ServiceRuntime, tenant_id: str, service_id: str, *, fresh: bool = False
) -> list[dict[str, Any]]:
    cache = runtime.state["config_cache"]
    cached = None if fresh else cache.get(tenant_id, service_id)
    if cached is None:
        async with runtime.db.session() as session:
            svc = await ServiceRepository(session, tenant_id).get(service_id)
            cached = svc.status, [e for e in svc.config if "triton_model" in e]
        cache.put(tenant_id, service_id, *cached)
    status, config = cached
    if status not in ACTIVE or not config:
        raise InvalidInput(f"service {service_id} is {status}, not running: start it first",
                           error_code="ModelArts.4203",
                           details=[ErrorDetail(rule="service_not_running", msg=f"status {status}")])
    return config


async def _infer(
    runtime: ServiceRuntime, service_id: str, tenant_id: str, config: list[dict[str, Any]], payload: bytes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route by weight and call Triton; once more on fresh config if the model was just swapped out."""
    triton, router_ = runtime.state["triton"], runtime.state["router"]
    for attempt in (1, 2):
        entries = [e for e in config if e["weight"] > 0] or config
        entry = entries[router_.pick(service_id, [(e["triton_model"], e["weight"]) for e in entries])]
        try:
            return entry, await triton.infer(entry["triton_model"], payload)
        except TritonError as exc:
            if attempt == 2:
                raise ServiceUnavailable(f"model {entry['model_version']} did not answer: {exc}",
                                         error_code="ModelArts.4203") from exc
            config = await _serving_config(runtime, tenant_id, service_id, fresh=True)
    raise AssertionError("unreachable")
