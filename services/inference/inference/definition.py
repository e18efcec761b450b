"""The inference service as the shared runtime sees it."""

from inference.config import Settings
from inference.consumers import register_consumers
from inference.models import Base, messaging
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="inference",
    title="ExeML Inference service",
    description="Real-time services on Triton: deploy, traffic ratios between versions, compute nodes, auto stop, predictions.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    register_consumers=register_consumers,
)
