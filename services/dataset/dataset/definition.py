"""The dataset service as the shared runtime sees it."""

from dataset.config import Settings
from dataset.consumers import register_consumers
from dataset.models import Base, messaging
from shared.events.dataset import (
    DatasetCreated,
    DatasetDeleted,
    ImportCompleted,
    SamplesAdded,
    SamplesDeleted,
    VersionChecked,
    VersionFailed,
    VersionPublished,
)
from shared.service import ServiceDefinition


def _routers():
    from dataset.routes import datasets, samples, versions

    return [datasets.router, samples.router, versions.router]


def _loops():
    from dataset.resume import task_sweeper

    return [task_sweeper]


SERVICE = ServiceDefinition(
    name="dataset",
    title="ExeML Dataset service",
    description="Datasets, samples in object storage, import tasks, published dataset versions with their manifests, data checks.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(
        DatasetCreated,
        DatasetDeleted,
        SamplesAdded,
        SamplesDeleted,
        ImportCompleted,
        VersionPublished,
        VersionFailed,
        VersionChecked,
    ),
    background_loops=_loops,
)
