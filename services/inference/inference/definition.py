"""The inference service as the shared runtime sees it."""

from fastapi import APIRouter

from inference.config import Settings
from inference.consumers import register_consumers
from inference.lifespan import inference_lifespan, reconcile_services
from inference.models import Base, messaging
from shared.events.inference import (
    ServiceDeleted,
    ServiceDeploying,
    ServiceFailed,
    ServiceRunning,
    ServiceStopped,
)
from shared.service import ServiceDefinition


def _routers() -> list[APIRouter]:
    from inference.router import infer_router, router

    return [router, infer_router]


SERVICE = ServiceDefinition(
    name="inference",
    title="ExeML Inference service",
    description="Real-time services on Triton: deploy, traffic ratios between versions, compute nodes, auto stop, predictions.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(ServiceDeploying, ServiceRunning, ServiceStopped, ServiceFailed, ServiceDeleted),
    lifespan=inference_lifespan,
    background_loops=lambda: [reconcile_services],
)
