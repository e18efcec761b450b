"""The labeling service as the shared runtime sees it."""

from labeling.config import Settings
from labeling.consumers import register_consumers
from labeling.models import Base, messaging
from shared.service import ServiceDefinition


def _routers():
    from labeling.routers import routers  # imported when an app is built, not with the definition

    return routers()


SERVICE = ServiceDefinition(
    name="labeling",
    title="ExeML Labeling service",
    description="Label sets and annotations of dataset samples, label statistics.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
)
