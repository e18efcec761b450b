"""The registry service as the shared runtime sees it."""

from fastapi import APIRouter

from registry.config import Settings
from registry.consumers import register_consumers
from registry.models import Base, messaging
from shared.events.registry import ModelVersionDeleted, ModelVersionRegistered
from shared.service import ServiceDefinition


def _routers() -> list[APIRouter]:
    from registry.router import router

    return [router]


SERVICE = ServiceDefinition(
    name="registry",
    title="ExeML Registry service",
    description="AI applications (models) and their versions 0.0.1, 0.0.2, …, model packages and lineage.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(ModelVersionRegistered, ModelVersionDeleted),
)
