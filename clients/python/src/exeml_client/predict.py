"""A prediction request in the format of the service's task type, from a file (ModelArts' formats).

Images and sounds go as multipart files (``images``, ``sound``); a text file's content as ``{"text": …}``; a CSV
file's rows as ``{"data": {"req_data": [{column: value, …}]}}`` (numbers as numbers); a ``.json`` file as it is.

Answers write confidences and box coordinates as decimal strings, as the ExeML guide (``"0.972"``, ADR 0022);
``numbers=True`` asks the service for JSON numbers of the same values (``?numbers=true``).
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
from pathlib import Path
from typing import Any

from exeml_client._core import Call
from exeml_client.endpoints import PREDICT

__all__ = ["predict_call"]

_FILE_FIELDS = {
    "image_classification": "images",
    "object_detection": "images",
    "sound_classification": "sound",
}


def predict_call(
    service_id: str, task_type: str, path: Path, *, numbers: bool = False
) -> Call[dict[str, Any]]:
    """Prediction has no side effect but a counter: it is retried like a read. ``numbers``: confidences and box
    coordinates as JSON numbers instead of the guide's decimal strings."""
    ids = {"service_id": service_id}
    params = {"numbers": "true"} if numbers else None
    if path.suffix.lower() == ".json":
        body = json.loads(path.read_text(encoding="utf-8"))
        return Call(PREDICT, ids, params=params, json=body, idempotent=True)
    if task_type in _FILE_FIELDS:
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files = [(_FILE_FIELDS[task_type], (path.name, path.read_bytes(), media_type))]
        return Call(PREDICT, ids, params=params, files=files, idempotent=True)
    if task_type == "text_classification":
        text = {"text": path.read_text(encoding="utf-8").strip()}
        return Call(PREDICT, ids, params=params, json=text, idempotent=True)
    if task_type == "predictive_analytics":
        return Call(
            PREDICT,
            ids,
            params=params,
            json={"data": {"req_data": table_rows(path.read_text(encoding="utf-8"))}},
            idempotent=True,
        )
    raise ValueError(f"{path}: no request format known for task type {task_type!r}")


def table_rows(text: str) -> list[dict[str, Any]]:
    """CSV with a header row → one dict per row; numbers become numbers, empty cells are left out."""
    return [
        {k: _value(v) for k, v in row.items() if v not in ("", None)}
        for row in csv.DictReader(io.StringIO(text))
    ]


def _value(cell: str) -> Any:
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell
