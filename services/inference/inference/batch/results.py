"""What a batch service writes: one JSON line per input, in parts per chunk, then the result files.

A line is ``{"index", "source", "line"|"row", "result"}`` where ``result`` is what a real-time prediction of
the input answers (for a table row: its ``resp_data`` entry), or ``{"index", "source", …, "error": {"rule",
"msg", "field"}}`` for an input the model cannot read. Chunk ``k``'s lines are the object
``<dest>/_parts/part-<k>.jsonl`` until the batch service ends; then ``results.jsonl`` holds them all in input
order (and, for tables, ``results.csv`` one row per input) and the parts are deleted.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from inference.batch.inputs import TABLE, BatchInput
from inference.models import BatchService
from shared.events.inference import BatchServiceEvent
from shared.storage import S3Uri

__all__ = [
    "PARTS",
    "answer_line",
    "batch_event",
    "csv_results",
    "encode_lines",
    "part_uri",
    "result_uris",
]

PARTS = "_parts"


def answer_line(item: BatchInput, task_type: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The line of one input: ``answer`` is ``{"ok": body}`` or ``{"error": {…}}``, as Triton gives it."""
    line: dict[str, Any] = {"index": item.index, "source": item.source}
    if item.line is not None:
        line["row" if task_type == TABLE else "line"] = item.line
    if "ok" in answer:
        line["result"] = answer["ok"]
    else:
        line["error"] = answer["error"]
    return line


def encode_lines(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def part_uri(dest: str, chunk: int) -> S3Uri:
    return S3Uri.parse(dest).join(PARTS, f"part-{chunk:05d}.jsonl")


def result_uris(job: BatchService) -> list[str]:
    """The result files of a batch service (written when it finishes or stops)."""
    dest = S3Uri.parse(job.dest_path)
    names = ["results.jsonl", "results.csv"] if job.task_type == TABLE else ["results.jsonl"]
    return [str(dest.join(name)) for name in names]


def csv_results(jsonl: bytes) -> bytes:
    """``results.csv`` of a table batch service: source, row, predict, one probability column per label,
    error (the rule and message of an error line)."""
    lines = [json.loads(text) for text in jsonl.decode("utf-8").splitlines() if text]
    labels: dict[str, None] = {}
    for line in lines:
        labels |= dict.fromkeys((line.get("result") or {}).get("probabilities") or {})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source", "row", "predict", *(f"probability_{label}" for label in labels), "error"])
    for line in lines:
        result, error = line.get("result") or {}, line.get("error")
        probabilities = result.get("probabilities") or {}
        writer.writerow(
            [
                line["source"],
                line.get("row", ""),
                result.get("predict", ""),
                *(probabilities.get(label, "") for label in labels),
                f"{error['rule']}: {error['msg']}" if error else "",
            ]
        )
    return out.getvalue().encode("utf-8")


def batch_event(kind: type[BatchServiceEvent], job: BatchService, **extra: Any) -> BatchServiceEvent:
    """An ``inference.batch_service.*`` event of ``job`` as it stands."""
    return kind(
        service_id=job.id,
        service_name=job.name,
        model_id=job.model_id,
        model_version=job.model_version,
        task_type=job.task_type,
        total_inputs=job.total_inputs or 0,
        done_inputs=job.done_inputs or 0,
        failed_inputs=job.failed_inputs or 0,
        **extra,
    )
