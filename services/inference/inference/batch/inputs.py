"""The inputs of a batch service: which objects of its source folder count, and the inputs each holds.

An image or a WAV file is one input; a text file holds one input per non-blank line, a CSV file one per
row under its header. The inputs are numbered in key order, then line order (the object store lists keys
sorted): that order never changes while a batch service runs, so chunk ``k`` is always the same inputs.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import json
from dataclasses import dataclass
from typing import Any

from shared.storage import S3Uri
from shared.storage.tenancy import TenantStorage

__all__ = ["SUFFIXES", "BatchInput", "InputReader", "split_inputs", "take_inventory"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
SUFFIXES = {
    "image_classification": IMAGE_SUFFIXES,
    "object_detection": IMAGE_SUFFIXES,
    "sound_classification": (".wav",),
    "text_classification": (".txt",),
    "predictive_analytics": (".csv",),
}
TABLE = "predictive_analytics"
# Each of these objects holds many inputs (lines, rows); any other object is one input.
LINES = ("text_classification", TABLE)


@dataclass(frozen=True)
class BatchInput:
    """One input: its place in the batch service's order, where it comes from, and what Triton gets."""

    index: int
    source: str  # s3:// address of the object
    line: int | None  # text: the line's number in the file; tables: the row's (1 = first under the header)
    payload: bytes  # what a real-time predict call with this input hands Triton
    row: dict[str, Any] | None = None  # tables: the row


def split_inputs(task_type: str, data: bytes) -> list[tuple[int | None, bytes, dict[str, Any] | None]]:
    """The inputs an object holds: ``(line, payload, row)`` each."""
    if task_type not in LINES:
        return [(None, data, None)]
    text = data.decode("utf-8-sig", errors="replace")
    if task_type == TABLE:
        rows = csv.DictReader(io.StringIO(text, newline=""))
        # A row with more fields than the header keeps the extra ones under None: they name no column.
        kept = [{k: v for k, v in row.items() if k is not None} for row in rows]
        return [(n, json.dumps([row]).encode(), row) for n, row in enumerate(kept, 1)]
    lines = enumerate(text.splitlines(), 1)
    return [(n, line.encode("utf-8"), None) for n, line in lines if line.strip()]


async def take_inventory(storage: TenantStorage, src: str, task_type: str) -> list[list[Any]]:
    """``[address, number of inputs]`` of each object of ``src`` that holds inputs of ``task_type``, in key
    order (text and CSV files are read to count their lines)."""
    suffixes = SUFFIXES[task_type]
    inventory: list[list[Any]] = []
    for info in await storage.list(src):
        if not info.key.lower().endswith(suffixes):
            continue
        count = len(split_inputs(task_type, await storage.get(info.uri))) if task_type in LINES else 1
        if count:
            inventory.append([str(info.uri), count])
    return inventory


class InputReader:
    """The inputs of a range, read from storage; keeps the last object read (a text or CSV file spans
    chunks)."""

    def __init__(self, storage: TenantStorage, task_type: str, inventory: list[list[Any]]) -> None:
        self.storage, self.task_type, self.inventory = storage, task_type, inventory
        self.starts = [0, *itertools.accumulate(count for _, count in inventory)]
        self._cached: tuple[int, list[tuple[int | None, bytes, dict[str, Any] | None]]] | None = None

    async def read(self, start: int, stop: int) -> list[BatchInput]:
        """Inputs ``start`` to ``stop - 1`` of the batch service's order."""
        items: list[BatchInput] = []
        first = bisect.bisect_right(self.starts, start) - 1
        for i in range(first, len(self.inventory)):
            if self.starts[i] >= stop:
                break
            held = await self._inputs(i)
            low, high = max(start - self.starts[i], 0), min(stop - self.starts[i], len(held))
            source = self.inventory[i][0]
            for offset in range(low, high):
                line, payload, row = held[offset]
                items.append(BatchInput(self.starts[i] + offset, source, line, payload, row))
        return items

    async def _inputs(self, i: int) -> list[tuple[int | None, bytes, dict[str, Any] | None]]:
        if self._cached is None or self._cached[0] != i:
            data = await self.storage.get(S3Uri.parse(self.inventory[i][0]))
            self._cached = i, split_inputs(self.task_type, data)
        return self._cached[1]
