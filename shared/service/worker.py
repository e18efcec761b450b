"""The worker process of a service: outbox relay and event consumers until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from shared.logging import configure_logging, get_logger
from shared.service.definition import ServiceDefinition
from shared.service.runtime import build_runtime
from shared.settings import ServiceSettings

__all__ = ["run_worker", "serve_worker"]

log = get_logger(__name__)


async def serve_worker(
    definition: ServiceDefinition, stop: asyncio.Event, settings: ServiceSettings | None = None
) -> None:
    """Run the relay and consumers of ``definition`` until ``stop`` is set."""
    runtime = build_runtime(definition, settings)
    await runtime.start(background=True)
    log.info("worker running", service=definition.name)
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        log.info("worker stopped", service=definition.name)


def run_worker(definition: ServiceDefinition) -> None:
    """Entry point of ``python -m <service>.worker``."""
    settings = definition.settings_cls()
    configure_logging(settings.log_level, settings.log_json)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_worker(definition, stop, settings)

    asyncio.run(main())
