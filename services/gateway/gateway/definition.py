"""The gateway service as the shared runtime sees it."""

from fastapi import APIRouter

from gateway.config import Settings
from gateway.consumers import register_consumers
from gateway.models import Base, messaging
from gateway.revocations import hear_revocations
from gateway.webhooks.delivery import deliver_webhooks
from shared.events.gateway import ApiKeyRevoked
from shared.service import ServiceDefinition


def _routers() -> list[APIRouter]:
    # Imported when an app is built, not with the definition; the catch-all proxy comes after these (app.py).
    from gateway.events.router import router as events_router
    from gateway.keys import keys_router
    from gateway.webhooks.router import router as webhooks_router

    return [keys_router(), events_router, webhooks_router]


SERVICE = ServiceDefinition(
    name="gateway",
    title="ExeML Gateway service",
    description="The one public entry point: authenticates callers, issues internal tokens, routes `/v1/...` to the services, aggregates OpenAPI, streams events.",
    settings_cls=Settings,
    metadata=Base.metadata,
    messaging=messaging,
    publishes=(ApiKeyRevoked,),
    register_consumers=register_consumers,
    routers=_routers,
    lifespan=hear_revocations,
    background_loops=lambda: [deliver_webhooks],
)
