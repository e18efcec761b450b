"""The worker process of a service: outbox relay and event consumers until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from shared.logging import configure_logging, get_logger
from shared.service.definition import ServiceDefinition
from shared.service.runtime import SettingsT, build_runtime

__all__ = ["run_until_signal", "run_worker", "serve_worker"]

log = get_logger(__name__)


async def serve_worker(
    definition: ServiceDefinition[SettingsT], stop: asyncio.Event, settings: SettingsT | None = None
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


def run_until_signal(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """A worker process's main: run ``serve(stop)`` until SIGTERM or SIGINT sets ``stop``."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    asyncio.run(main())


def run_worker(definition: ServiceDefinition[Any]) -> None:
    """Entry point of ``python -m <service>.worker``."""
    settings = definition.settings_cls()
    configure_logging(settings.log_level, settings.log_json)
    run_until_signal(lambda stop: serve_worker(definition, stop, settings))
