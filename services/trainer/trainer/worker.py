"""Worker of the trainer service: ``python -m trainer.worker``.

Runs the outbox relay and the event consumers (the read model of published dataset versions), the
training worker serving the job queues of ``EXEML_TRAINER_WORKER_FLAVORS`` one job at a time, and the
sweeper that re-dispatches jobs whose lease expired. Several workers may run side by side.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainer.config import Settings

# Imports stay inside the functions: a training process (multiprocessing spawn) re-imports this main
# module, and should not pay for the web, database and broker libraries it never uses.


async def serve(stop: asyncio.Event, settings: Settings | None = None) -> None:
    """Run until ``stop`` is set; a job in progress is handed back (pending again) on the way out."""
    from shared.service import build_runtime
    from trainer.config import Settings
    from trainer.definition import SERVICE

    # This process is a worker whatever the mode: the runtime's background loop runs the training worker.
    settings = (settings or Settings()).model_copy(update={"in_process_worker": True})
    runtime = build_runtime(SERVICE, settings)
    await runtime.start(background=True)
    try:
        await stop.wait()
    finally:
        await runtime.stop()


def main() -> None:
    from shared.logging import configure_logging
    from shared.service.worker import run_until_signal
    from trainer.config import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    run_until_signal(lambda stop: serve(stop, settings))


if __name__ == "__main__":
    main()
