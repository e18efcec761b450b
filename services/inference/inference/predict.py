"""Predictions: take the payload out of the HTTP request, route it to a version, ask Triton.

Payloads per task type (ModelArts' formats): image classification and detection, multipart field
``images`` (or ``file``); sound, multipart ``sound`` (or ``file``/``images``/``audio``); text, JSON
``{"text": …}`` (or ``{"input": …}``); tables, JSON ``{"data": {"req_data": [{…}, …]}}`` with an optional
``meta`` echoed back.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from inference.errors import BadPredictRequest, EmptyPredictRequest, PredictRequestTooLarge
from shared import json_limits
from shared.errors import ErrorDetail, InvalidInput

__all__ = ["FILE_FIELDS", "extract_payload"]

FILE_FIELDS = {
    "image_classification": ("images", "file"),
    "object_detection": ("images", "file"),
    "sound_classification": ("sound", "file", "images", "audio"),
}


def _bad(rule: str, msg: str, field: str | None = None) -> InvalidInput:
    return BadPredictRequest(msg, details=[ErrorDetail(rule=rule, msg=msg, field=field)])


async def extract_payload(
    request: Request, task_type: str, max_bytes: int, max_depth: int = json_limits.DEFAULT_MAX_DEPTH
) -> tuple[bytes, dict[str, Any]]:
    """The predictor's payload and what the response echoes (``meta`` of table requests)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise PredictRequestTooLarge(f"request body is larger than {max_bytes} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if task_type in FILE_FIELDS:
        return await _file_payload(request, content_type, FILE_FIELDS[task_type]), {}
    if content_type != "application/json":
        raise _bad(
            "content_type", f"this service takes application/json, not {content_type or 'no content type'}"
        )
    body = await _json_body(request, max_bytes, max_depth)
    if task_type == "text_classification":
        return _text_payload(body), {}
    if task_type == "predictive_analytics":
        return _table_payload(body)
    raise _bad("task_type", f"task type {task_type} cannot be served")


async def _file_payload(request: Request, content_type: str, fields: tuple[str, ...]) -> bytes:
    if content_type != "multipart/form-data":
        raise _bad(
            "content_type",
            f"send the file as multipart/form-data field {fields[0]!r}, not "
            f"{content_type or 'no content type'}",
            fields[0],
        )
    try:
        form = await request.form()
    except Exception as exc:
        raise _bad("multipart_invalid", f"the multipart body cannot be read: {exc}") from exc
    for name in fields:
        item = form.get(name)
        if isinstance(item, UploadFile):
            data = await item.read()
            if not data:
                raise _bad("file_empty", f"file field {name!r} is empty", name)
            return data
    raise _bad("file_missing", f"no file in form field {' or '.join(repr(f) for f in fields)}", fields[0])


async def _json_body(request: Request, max_bytes: int, max_depth: int) -> Any:
    raw = await request.body()
    if len(raw) > max_bytes:
        raise PredictRequestTooLarge(f"request body is larger than {max_bytes} bytes")
    if not raw:
        raise EmptyPredictRequest("empty request")
    return json_limits.loads(
        raw, max_bytes=max_bytes, max_depth=max_depth
    )  # 1000 levels were a RecursionError


def _text_payload(body: Any) -> bytes:
    text = body.get("text", body.get("input")) if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise _bad("text_missing", 'send {"text": "<the text>"}', "text")
    return text.encode("utf-8")


def _table_payload(body: Any) -> tuple[bytes, dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    rows = data.get("req_data") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise _bad(
            "req_data_missing",
            'send {"data": {"req_data": [{"attr_1": …}, …]}} with at least one row',
            "data.req_data",
        )
    echo = {"meta": body["meta"]} if isinstance(body.get("meta"), dict) else {}
    return json.dumps(rows).encode("utf-8"), echo
