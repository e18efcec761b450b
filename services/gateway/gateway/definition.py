"""The gateway service as the shared runtime sees it."""

from gateway.config import Settings
from gateway.consumers import register_consumers
from gateway.events import deliver_webhooks
from gateway.models import Base, messaging
from shared.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="gateway",
    title="ExeML Gateway service",
    description="The one public entry point: authenticates callers, issues internal tokens, routes `/v1/...` to the services, aggregates OpenAPI, streams events.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    register_consumers=register_consumers,
    background_loops=lambda: [deliver_webhooks],
)
