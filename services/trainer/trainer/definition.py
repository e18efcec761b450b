"""The trainer service as the shared runtime sees it."""

from shared.events.training import JobCreated, JobFailed, JobProgressed, JobStarted, JobStopped, JobSucceeded
from shared.service import ServiceDefinition
from trainer.config import Settings
from trainer.consumers import register_consumers
from trainer.models import Base, messaging


def _routers():
    from trainer.jobs.router import router

    return [router]


async def training_worker(runtime, stop) -> None:
    """The training worker as a background loop of the runtime (embedded mode, `python -m trainer.worker`)."""
    if not runtime.settings.runs_training_worker:
        return
    from trainer.jobworker import TrainingWorker

    await TrainingWorker(runtime).run(stop)


SERVICE = ServiceDefinition(
    name="trainer",
    title="ExeML Trainer service",
    description="Training jobs under a time budget, dispatched to workers that claim them under a lease; metrics, logs and model packages.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    routers=_routers,
    register_consumers=register_consumers,
    publishes=(JobCreated, JobStarted, JobProgressed, JobSucceeded, JobFailed, JobStopped),
    background_loops=lambda: [training_worker],
)
