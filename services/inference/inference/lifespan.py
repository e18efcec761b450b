"""What the inference service runs besides its routes: Triton (child process or remote), call counters,
and (in the process that runs the background loops) the reconciler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from inference.batch.runner import BatchRunner
from inference.config import Settings
from inference.counters import CallCounters
from inference.reconciler import Reconciler
from inference.routing import ServingConfigCache, WeightedRouter
from inference.shadow import ShadowMirror
from inference.triton.client import Batching, TritonModels
from inference.triton.server import TritonProcess
from shared.service import ServiceRuntime

__all__ = ["inference_lifespan", "reconcile_services", "run_batch_services"]


@asynccontextmanager
async def inference_lifespan(runtime: ServiceRuntime[Settings], background: bool) -> AsyncIterator[None]:
    """Start Triton when no ``triton_url`` is set and connect to it; API and worker processes alike."""
    settings = runtime.settings
    process: TritonProcess | None = None
    url, repository = settings.triton_url, settings.triton_model_repository
    if url is None:
        repository = (repository or settings.data_dir / "triton-models").resolve()
        process = TritonProcess(repository, settings.triton_venv)
        url = await process.start()
    batching = Batching(settings.triton_max_batch_size, settings.triton_max_queue_delay_us)
    triton = TritonModels(url, repository, batching=batching)
    counters = CallCounters(runtime.db)
    shadow = ShadowMirror(triton.infer)
    runtime.state.update(
        triton=triton,
        router=WeightedRouter(),
        triton_process=process,
        counters=counters,
        config_cache=ServingConfigCache(),
        shadow=shadow,
    )
    counting = asyncio.create_task(counters.run(), name="inference-call-counters")
    try:
        yield
    finally:
        await counters.close()
        await counting
        await shadow.close()
        await triton.close()
        if process is not None:
            await process.stop()


async def reconcile_services(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Background loop: deployments, updates, stops, deletions, auto stop and health (see reconciler)."""
    reconciler = Reconciler(runtime, runtime.state["triton"])
    runtime.state["reconciler"] = reconciler
    runtime.outbox.on_commit(reconciler.wake)
    await reconciler.run(stop)


async def run_batch_services(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Background loop: batch services, chunk by chunk under a lease (``batch_slots`` at once; 0: none)."""
    if runtime.settings.batch_slots == 0:
        return
    runner = BatchRunner(runtime, runtime.state["triton"])
    runtime.state["batch_runner"] = runner
    runtime.outbox.on_commit(runner.wake)
    await runner.run(stop)
