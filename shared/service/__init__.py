"""Building blocks of a service process: definition, runtime, app factory, worker."""

from shared.service.app import (
    RuntimeDep,
    SessionDep,
    create_service_app,
    get_runtime,
    get_session,
    serve_first,
    tenant_service,
)
from shared.service.definition import PLATFORM_SERVICES, ServiceDefinition, load_definition, load_service_app
from shared.service.peers import PeerError, Peers
from shared.service.runtime import ServiceRuntime, build_runtime
from shared.service.worker import run_worker, serve_worker

__all__ = [
    "PLATFORM_SERVICES",
    "PeerError",
    "Peers",
    "RuntimeDep",
    "ServiceDefinition",
    "ServiceRuntime",
    "SessionDep",
    "build_runtime",
    "create_service_app",
    "get_runtime",
    "get_session",
    "load_definition",
    "load_service_app",
    "run_worker",
    "serve_first",
    "serve_worker",
    "tenant_service",
]
