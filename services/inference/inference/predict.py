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
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

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
        return await _file_payload(request, content_type, FILE_FIELDS[task_type], max_bytes), {}
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


async def _file_payload(
    request: Request, content_type: str, fields: tuple[str, ...], max_bytes: int
) -> bytes:
    if content_type != "multipart/form-data":
        raise _bad(
            "content_type",
            f"send the file as multipart/form-data field {fields[0]!r}, not "
            f"{content_type or 'no content type'}",
            fields[0],
        )
    body = await _read_body(request, max_bytes)
    try:
        files = _FileParts.of(body, request.headers.get("content-type", ""))
    except (FormParserError, ValueError) as exc:
        raise _bad("multipart_invalid", f"the multipart body cannot be read: {exc}") from exc
    for name in fields:
        data = files.get(name)
        if data is not None:
            if not data:
                raise _bad("file_empty", f"file field {name!r} is empty", name)
            return data
    raise _bad("file_missing", f"no file in form field {' or '.join(repr(f) for f in fields)}", fields[0])


class _FileParts:
    """The file parts (those with a ``filename``) of a multipart body, by field name (the first of each name),
    read in memory: Starlette's form parser spooled each file over 1 MB to disk and read it back (a 2 MB photo
    cost 2.6 ms there, 0.7 ms here); text fields are skipped."""

    MAX_PARTS = 1000  # Starlette's limit on files and on fields

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.parts = 0
        self._header = self._value = self._disposition = b""
        self._name: str | None = None
        self._chunks: list[bytes] = []

    @classmethod
    def of(cls, body: bytes, content_type: str) -> dict[str, bytes]:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise ValueError("the content type names no boundary")
        parts = cls()
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": parts._begin,
                "on_header_field": parts._header_field,
                "on_header_value": parts._header_value,
                "on_header_end": parts._header_end,
                "on_headers_finished": parts._headers_finished,
                "on_part_data": parts._data,
                "on_part_end": parts._end,
            },
        )
        parser.write(body)
        parser.finalize()
        return parts.files

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > self.MAX_PARTS:
            raise ValueError(f"more than {self.MAX_PARTS} parts")
        self._disposition, self._name, self._chunks = b"", None, []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise ValueError('a part\'s Content-Disposition names no field ("name")')
        name = options[b"name"].decode("utf-8", "replace")
        self._name = name if b"filename" in options and name not in self.files else None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._name is not None:
            self._chunks.append(data[start:end])

    def _end(self) -> None:
        if self._name is not None:
            self.files[self._name] = b"".join(self._chunks)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``max_bytes``."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PredictRequestTooLarge(f"request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, max_bytes: int, max_depth: int) -> Any:
    raw = await _read_body(request, max_bytes)
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
