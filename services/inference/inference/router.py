"""HTTP routes of the inference service: real-time services (``/v1/services``) and predictions."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from inference.errors import BadPredictRequest, ModelUnavailable, ServiceNotRunning
from inference.models import ACTIVE, RealTimeService, ServiceEvent, ServiceStatus
from inference.numbers import with_numbers
from inference.predict import extract_payload
from inference.predict_docs import PREDICT_OPENAPI, PREDICT_RESPONSES
from inference.repository import ServiceRepository
from inference.schemas import (
    ID_PATTERN,
    SERVICE_ID,
    PredictAnswer,
    Schedule,
    ServedConfig,
    ServiceCreate,
    ServiceEventList,
    ServiceEventRead,
    ServiceList,
    ServiceRead,
    ServiceStatusName,
    ServiceUpdate,
    ShadowRead,
    SpecificationList,
)
from inference.service import RealTimeServices, live_entries, shadow_entry
from inference.shadow import AGREEMENT_RULES
from inference.specs import specifications
from inference.triton.client import TritonError
from shared.auth import Principal, PrincipalDep, WriterDep, verified_principal
from shared.context import bind_context
from shared.db import Page
from shared.errors import ErrorDetail
from shared.naming import PLAIN_TEXT_PATTERN
from shared.service import RuntimeDep, ServiceRuntime, SessionDep
from shared.service.params import Offset, limit_query
from shared.stages import stage

router = APIRouter(prefix="/v1/services", tags=["services"])
infer_router = APIRouter(prefix="/v1/infers", tags=["predictions"])
ServiceId = Annotated[str, Path(pattern=ID_PATTERN, description="The service's id", examples=[SERVICE_ID])]
PageLimit = Annotated[int, limit_query(100, 1000)]


async def _services(runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep) -> RealTimeServices:
    return RealTimeServices(runtime, session, principal.tenant_id)


ServicesDep = Annotated[RealTimeServices, Depends(_services)]


def _read(runtime: ServiceRuntime, svc: RealTimeService) -> ServiceRead:
    shown = svc.config or (svc.target_config if svc.status == ServiceStatus.DEPLOYING else None) or []
    pending = live_entries(svc.target_config) if svc.config and svc.target_config else None
    return ServiceRead(
        service_id=svc.id,
        service_name=svc.name,
        description=svc.description,
        status=svc.status,
        progress=svc.progress,
        error_msg=svc.error_msg,
        config=[ServedConfig.model_validate(e) for e in live_entries(shown)],
        pending_config=[ServedConfig.model_validate(e) for e in pending] if pending else None,
        schedule=[Schedule(duration=svc.schedule_hours)] if svc.schedule_hours else [],
        due_time=svc.due_time,
        invocation_times=svc.invocation_times,
        failed_times=svc.failed_times,
        shadow=_shadow_read(runtime, svc.id, shadow_entry(shown)),
        access_address=f"{runtime.settings.public_base_url.rstrip('/')}/v1/infers/{svc.id}",
        publish_at=svc.created_at,
        update_time=svc.updated_at,
        transition_at=svc.transition_at,
    )


def _shadow_read(runtime: ServiceRuntime, service_id: str, entry: dict[str, Any] | None) -> ShadowRead | None:
    if entry is None:
        return None
    stats = runtime.state["shadow"].stats(service_id, (entry["model_id"], entry["model_version"]))
    return ShadowRead.model_validate(
        entry | stats.summary() | {"agreement_rule": AGREEMENT_RULES.get(entry["task_type"], "")}
    )


@router.get("/specifications", response_model=SpecificationList, summary="Deployable specifications")
async def list_specifications(runtime: RuntimeDep, _principal: PrincipalDep) -> SpecificationList:
    """The flavors ``config[].specification`` may name; GPU ones are open only where GPUs are available."""
    items = specifications(runtime.settings.gpu_available)
    return SpecificationList(items=items, total=len(items))


@router.post("", response_model=ServiceRead, status_code=201, summary="Deploy a service")
async def create_service(
    body: ServiceCreate, runtime: RuntimeDep, services: ServicesDep, writer: WriterDep
) -> ServiceRead:
    """Deploys one or more published model versions with traffic weights (integers summing to 100),
    1-5 compute nodes each and auto stop (default 1 h; ``[]`` turns it off). The service starts
    ``deploying`` and becomes ``running`` once Triton has loaded every version (or ``failed``)."""
    return _read(runtime, await services.create(body))


@router.get("", response_model=ServiceList, summary="List services")
async def list_services(
    runtime: RuntimeDep,
    services: ServicesDep,
    service_name: Annotated[
        str | None, Query(max_length=64, pattern=PLAIN_TEXT_PATTERN, description="Part of the name")
    ] = None,
    status: Annotated[ServiceStatusName | None, Query(description="Only services in this status")] = None,
    offset: Offset = 0,
    limit: PageLimit = 100,
) -> ServiceList:
    """Real-time services of the tenant, newest first; filter by part of the name and by status."""
    page = await services.search(name=service_name, status=status, offset=offset, limit=limit)
    return ServiceList(items=[_read(runtime, s) for s in page.items], total=page.total)


@router.get("/{service_id}", response_model=ServiceRead, summary="Get a service")
async def get_service(service_id: ServiceId, runtime: RuntimeDep, services: ServicesDep) -> ServiceRead:
    """Status, progress, error, config, auto stop due time, invocation and failure counts."""
    return _read(runtime, await services.get(service_id))


@router.put("/{service_id}", response_model=ServiceRead, summary="Start, stop or update")
async def update_service(
    service_id: ServiceId, body: ServiceUpdate, runtime: RuntimeDep, services: ServicesDep, writer: WriterDep
) -> ServiceRead:
    """``{"status": "running"}`` starts, ``{"status": "stopped"}`` stops (with ``status``, other fields are
    ignored). A new ``config`` of a running service rolls out without downtime: weight-only changes apply
    at once; new versions, nodes or specifications are loaded first, then traffic moves, then the old
    models are unloaded. ``shadow`` names a candidate version that gets a copy of ``share`` percent of the
    requests: it is loaded like the others but answers no one; its agreement with the live answers, its
    errors and latencies show under ``shadow`` on the service. ``"shadow": null`` removes and unloads it;
    without ``shadow`` the current one stays."""
    return _read(runtime, await services.update(service_id, body))


@router.delete("/{service_id}", status_code=202, summary="Delete a service")
async def delete_service(
    service_id: ServiceId, runtime: RuntimeDep, services: ServicesDep, writer: WriterDep
) -> ServiceRead:
    """The service goes ``deleting``; its models are unloaded and it disappears."""
    await services.delete(service_id)
    return _read(runtime, await services.get(service_id))


@router.get("/{service_id}/events", response_model=ServiceEventList, summary="Service events")
async def service_events(
    service_id: ServiceId,
    services: ServicesDep,
    offset: Offset = 0,
    limit: PageLimit = 100,
) -> ServiceEventList:
    """What happened to the service (deploying, running, stopped, failures), newest first."""
    return _event_list(await services.history(service_id, "event", offset=offset, limit=limit))


@router.get("/{service_id}/logs", response_model=ServiceEventList, summary="Update history")
async def service_updates(
    service_id: ServiceId,
    services: ServicesDep,
    offset: Offset = 0,
    limit: PageLimit = 100,
) -> ServiceEventList:
    """Config and schedule updates with the config before and after and their result, newest first."""
    return _event_list(await services.history(service_id, "update", offset=offset, limit=limit))


def _event_list(page: Page[ServiceEvent]) -> ServiceEventList:
    return ServiceEventList(items=[ServiceEventRead.model_validate(e) for e in page.items], total=page.total)


@infer_router.post(
    "/{service_id}",
    summary="Predict",
    response_model=PredictAnswer,
    responses=PREDICT_RESPONSES,
    openapi_extra=PREDICT_OPENAPI,
)
async def predict(
    service_id: ServiceId,
    request: Request,
    principal: PrincipalDep,
    numbers: Annotated[
        bool,
        Query(
            description="Answer confidences and box coordinates as JSON numbers (`0.972`) instead of the "
            'decimal strings of the ExeML guide (`"0.972"`, the default); the values are the same. '
            "Table answers are the same either way.",
            openapi_examples={
                "guide": {"summary": "Decimal strings, as the ExeML guide (default)", "value": False},
                "numbers": {"summary": "JSON numbers", "value": True},
            },
        ),
    ] = False,
) -> JSONResponse:
    """Send one sample in the format of the service's task type, as ModelArts' real-time services take it:

    * image classification and object detection: ``multipart/form-data`` with the image file under
      ``images`` (or ``file``);
    * sound classification: ``multipart/form-data`` with the WAV file under ``sound`` (or ``file``,
      ``audio``, ``images``);
    * text classification: ``application/json`` ``{"text": "…"}`` (or ``{"input": "…"}``);
    * predictive analytics: ``application/json`` ``{"meta": {…}, "data": {"req_data": [{<column>: <value>,
      …}, …]}}``, every feature column of the training table per row.

    The answer has the shape of the task type: ``{"predicted_label", "scores"}`` (image classification,
    top 5), ``{"detection_classes", "detection_boxes", "detection_scores"}`` (boxes ``[y_min, x_min, y_max,
    x_max]`` in pixels), ``{"predicted_label", "score", "scores"}`` (sound, text), ``{"meta", "data":
    {"resp_data": [{"predict", "probabilities"}]}}`` (tables). As in the ExeML guide, confidences are decimal
    strings with 3 decimals (``"0.972"``) and box coordinates decimal strings with 2; ``?numbers=true``
    answers them as JSON numbers (ADR 0022). Table answers keep ModelArts' table format. The header
    ``X-ExeML-Model-Version`` names the version that answered. A payload the model cannot read is a 400
    naming the rule (ModelArts.4200); a service that is not running answers 400 ModelArts.4203."""
    return await answer_prediction(request, principal, service_id, numbers=numbers)


async def hot_predict(request: Request, params: dict[str, str]) -> JSONResponse | None:
    """``POST /v1/infers/{service_id}`` ahead of FastAPI's routing and dependencies
    (:func:`shared.service.hot_path.serve_hot`); a request with query parameters is left to :func:`predict`,
    which validates them."""
    if request.scope.get("query_string"):
        return None
    principal = verified_principal(request)
    with bind_context(tenant_id=principal.tenant_id, subject=principal.subject):
        return await answer_prediction(request, principal, params["service_id"], numbers=False)


async def answer_prediction(
    request: Request, principal: Principal, service_id: str, *, numbers: bool
) -> JSONResponse:
    """The answer of one predict request of ``principal`` to ``service_id`` (an id of the right form)."""
    runtime: ServiceRuntime = request.app.state.runtime
    with stage("inference.config"):
        config = await _serving_config(runtime, principal.tenant_id, service_id)
    failed = True
    try:
        with stage("inference.payload"):
            payload, echo = await extract_payload(
                request,
                config[0]["task_type"],
                runtime.settings.max_payload_bytes,
                runtime.settings.max_json_depth,
            )
        started = time.perf_counter()
        with stage("inference.triton"):
            entry, answer = await _infer(runtime, service_id, principal.tenant_id, config, payload)
        if "error" in answer:
            err = answer["error"]
            raise BadPredictRequest(
                err["msg"], details=[ErrorDetail(rule=err["rule"], msg=err["msg"], field=err.get("field"))]
            )
        failed = False
        _mirror(runtime, service_id, config, payload, answer["ok"], (time.perf_counter() - started) * 1000)
        body = {**echo, **answer["ok"]}
        return JSONResponse(
            with_numbers(body) if numbers else body,
            headers={"X-ExeML-Model-Version": entry["model_version"]},
        )
    finally:
        runtime.state["counters"].count(service_id, failed=failed)


def _mirror(
    runtime: ServiceRuntime,
    service_id: str,
    config: list[dict[str, Any]],
    payload: bytes,
    live: dict[str, Any],
    live_ms: float,
) -> None:
    """Hand the request to the service's shadow, if it has one; the live answer does not wait for it."""
    shadow = shadow_entry(config)
    if shadow is not None:
        runtime.state["shadow"].observe(service_id, shadow, payload, live, live_ms)


async def _serving_config(
    runtime: ServiceRuntime, tenant_id: str, service_id: ServiceId, *, fresh: bool = False
) -> list[dict[str, Any]]:
    status, config = await runtime.state["config_cache"].get(
        tenant_id, service_id, partial(_load_serving_config, runtime, tenant_id, service_id), fresh=fresh
    )
    if status not in ACTIVE or not config:
        raise ServiceNotRunning(
            f"service {service_id} is {status}, not running: start it first",
            details=[ErrorDetail(rule="service_not_running", msg=f"status {status}")],
        )
    return config


async def _load_serving_config(
    runtime: ServiceRuntime, tenant_id: str, service_id: ServiceId
) -> tuple[str, list[dict[str, Any]]]:
    async with runtime.db.session() as session:
        svc = await ServiceRepository(session, tenant_id).get(service_id)
        return svc.status, [e for e in svc.config if "triton_model" in e]


async def _infer(
    runtime: ServiceRuntime,
    service_id: ServiceId,
    tenant_id: str,
    config: list[dict[str, Any]],
    payload: bytes,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route by weight and call Triton; once more on fresh config if the model was just swapped out."""
    triton, router_ = runtime.state["triton"], runtime.state["router"]
    for attempt in (1, 2):
        live = live_entries(config)
        entries = [e for e in live if e["weight"] > 0] or live
        entry = entries[router_.pick(service_id, [(e["triton_model"], e["weight"]) for e in entries])]
        try:
            return entry, await triton.infer(entry["triton_model"], payload)
        except TritonError as exc:
            if attempt == 2:
                raise ModelUnavailable(f"model {entry['model_version']} did not answer: {exc}") from exc
            config = await _serving_config(runtime, tenant_id, service_id, fresh=True)
    raise AssertionError("unreachable")
