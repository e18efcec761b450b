"""Dynamic batching on the real Triton server: concurrent predictions go in fewer requests and are served
in fewer model runs than payloads, each gets the answer a single call gets, and a bad payload's error stays
that prediction's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from inference.triton.client import Batching, ModelFiles, TritonModels
from inference.triton.server import TritonProcess

from shared.packages import TASK_TYPES
from shared.testing.packages_by_type import bad_payload, package_files, payloads, same

# A longer queue delay than the default so that a loaded test machine still forms batches.
BATCHING = Batching(max_batch_size=16, max_queue_delay_us=20_000)


@pytest.fixture
async def triton(tmp_path: Path) -> AsyncIterator[TritonModels]:
    process = TritonProcess(tmp_path / "triton-models")
    models = TritonModels(await process.start(), process.repository, batching=BATCHING)
    try:
        yield models
    finally:
        await models.close()
        await process.stop()


async def test_concurrent_requests_are_batched_and_answered_as_single_calls(triton: TritonModels) -> None:
    for task in TASK_TYPES:
        model = task.replace("_", "-")
        await triton.load(
            model, ModelFiles.for_package(package_files(task)), instance_count=1, kind="KIND_CPU"
        )
        config = await triton.config(model)
        assert config["max_batch_size"] == 16 and "dynamic_batching" in config
        bad = bad_payload(task)
        inputs = [*payloads(task, 12), bad, bad]
        singles = [await triton.infer(model, p) for p in inputs]  # one at a time: batches of one
        before = await triton.statistics(model)
        assert before == {"inference_count": 14, "execution_count": 14, "requests": 14}, (task, before)

        answers = await asyncio.gather(*[triton.infer(model, p) for p in inputs])

        assert [set(a) for a in answers] == [{"ok"}] * 12 + [{"error"}] * 2, task
        assert same([a["ok"] for a in answers[:12]], [a["ok"] for a in singles[:12]]), task
        rules = [{k: a["error"][k] for k in ("rule", "field")} for a in (*answers[12:], *singles[12:])]
        assert all(r == rules[0] for r in rules), task
        after = await triton.statistics(model)
        runs = after["execution_count"] - before["execution_count"]
        assert after["inference_count"] - before["inference_count"] == 14 and runs < 14, (task, before, after)
        # The payloads that waited while the first ones were out went together, in fewer requests.
        assert after["requests"] - before["requests"] < 14, (task, before, after)
        await triton.unload(model)
