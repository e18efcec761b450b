"""The inference service as the shared runtime sees it."""

from fastapi import APIRouter

from inference.config import Settings
from inference.consumers import register_consumers
from inference.lifespan import inference_lifespan, reconcile_services, run_batch_services
from inference.models import Base, messaging
from shared.events.inference import (
    BatchServiceCreated,
    BatchServiceFailed,
    BatchServiceFinished,
    BatchServiceProgressed,
    BatchServiceStarted,
    BatchServiceStopped,
    ServiceDeleted,
    ServiceDeploying,
    ServiceFailed,
    ServiceRunning,
    ServiceStopped,
)
from shared.service import ServiceDefinition


def _routers() -> list[APIRouter]:
    from inference.batch.router import router as batch_router
    from inference.router import infer_router, router

    return [router, batch_router, infer_router]


SERVICE = ServiceDefinition(
    name="inference",
    title="ExeML Inference service",
    description="Real-time services on Triton: deploy, traffic ratios between versions, compute nodes, auto stop, "
    "predictions; batch services over a folder of inputs.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(
        ServiceDeploying,
        ServiceRunning,
        ServiceStopped,
        ServiceFailed,
        ServiceDeleted,
        BatchServiceCreated,
        BatchServiceStarted,
        BatchServiceProgressed,
        BatchServiceFinished,
        BatchServiceStopped,
        BatchServiceFailed,
    ),
    lifespan=inference_lifespan,
    background_loops=lambda: [reconcile_services, run_batch_services],
)
