"""Helpers of the inference tests: a registry + inference platform whose inference service starts its
own Triton (the server bundled in .venv-triton) as a child process."""

from __future__ import annotations

import pytest


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
