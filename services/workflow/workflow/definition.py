"""The workflow service as the shared runtime sees it."""

from shared.events.workflow import ExecutionCompleted, PhaseChanged, PhaseStarted
from shared.service import ServiceDefinition
from workflow.config import Settings
from workflow.consumers import register_consumers
from workflow.models import Base, messaging
from workflow.router import router

SERVICE = ServiceDefinition(
    name="workflow",
    title="ExeML Workflow service",
    description="ExeML projects and their phase DAG (label, publish, check, train, register, deploy): the saga that drives the other services.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    register_consumers=register_consumers,
    publishes=(PhaseChanged, PhaseStarted, ExecutionCompleted),
    routers=lambda: [router],
)
