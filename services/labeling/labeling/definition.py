"""The labeling service as the shared runtime sees it."""

from labeling.config import Settings
from labeling.consumers import register_consumers
from labeling.models import Base, messaging
from shared.events.labeling import AnnotationsChanged, LabelDeleted, LabelRenamed
from shared.service import ServiceDefinition


def _routers():
    from labeling.router import routers  # imported when an app is built, not with the definition

    return routers()


def _prelabel_loop():
    from labeling.prelabel.runner import run_prelabel_tasks

    return run_prelabel_tasks


SERVICE = ServiceDefinition(
    name="labeling",
    title="ExeML Labeling service",
    description="Label sets and annotations of dataset samples, label statistics.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(AnnotationsChanged, LabelRenamed, LabelDeleted),
    background_loops=lambda: [_prelabel_loop()],
)
