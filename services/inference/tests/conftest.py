"""Helpers of the inference tests: a registry + inference platform whose inference service starts its
own Triton (the server bundled in .venv-triton) as a child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.testing.processes import ModuleProcess


@pytest.fixture
def serving_platform(platform_factory, tmp_path):
    async def make(**inference_settings):
        overrides = {
            "inference": {
                "reconcile_interval_seconds": 0.2,
                "triton_model_repository": str(tmp_path / "triton-models"),
                "unload_grace_seconds": 0.5,
                **inference_settings,
            }
        }
        return await platform_factory(["registry", "inference"], overrides=overrides)

    return make


class BatchWorker(ModuleProcess):
    """``python -m inference.worker`` as a deployment runs it, on the test platform's Triton, taking batch
    services (the platform's own inference process is started with ``batch_slots=0``)."""

    def __init__(self, platform, name: str, log_dir: Path, lease_seconds: float) -> None:
        runtime = platform.runtimes["inference"]
        env = {
            **os.environ,
            **platform.env("inference"),
            "EXEML_INFERENCE_TRITON_URL": runtime.state["triton"].url,
            "EXEML_INFERENCE_TRITON_MODEL_REPOSITORY": str(runtime.settings.triton_model_repository),
            "EXEML_INFERENCE_BATCH_SLOTS": "1",
            "EXEML_INFERENCE_BATCH_LEASE_SECONDS": str(lease_seconds),
            "EXEML_INFERENCE_RECONCILE_INTERVAL_SECONDS": "0.2",
            "EXEML_OUTBOX_POLL_SECONDS": "0.1",
        }
        super().__init__("inference.worker", env, log_dir / f"{name}.log")


@pytest.fixture
def batch_workers(tmp_path, platform_factory):
    """Start batch worker processes for a platform; all are stopped after the test, before the platform."""
    started: list[BatchWorker] = []

    def start(platform, name: str, lease_seconds: float = 3.0) -> BatchWorker:
        worker = BatchWorker(platform, name, tmp_path, lease_seconds)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
