"""Answering one chunk of inputs on Triton, as real-time predictions of the same inputs would be answered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from inference.batch.inputs import TABLE, BatchInput
from inference.batch.results import answer_line
from inference.triton.client import TritonModels

__all__ = ["answer_chunk"]


async def answer_chunk(
    triton: TritonModels, model: str, task_type: str, items: list[BatchInput]
) -> list[dict[str, Any]]:
    """One line per input, in order. The inputs go to Triton together (its dynamic batcher runs them in few
    model calls); table rows go as one request, and row by row only when one of them breaks a rule, so each
    bad row gets its own error line."""
    if task_type == TABLE and items:
        rows = [item.row for item in items]
        answer = await triton.infer(model, json.dumps(rows).encode())
        if "ok" in answer:
            results = answer["ok"]["data"]["resp_data"]
            return [answer_line(i, task_type, {"ok": r}) for i, r in zip(items, results, strict=True)]
    answers = await asyncio.gather(*(triton.infer(model, item.payload) for item in items))
    if task_type == TABLE:
        answers = [{"ok": a["ok"]["data"]["resp_data"][0]} if "ok" in a else a for a in answers]
    return [answer_line(item, task_type, answer) for item, answer in zip(items, answers, strict=True)]
