"""Size and depth limits for every JSON document the platform parses from outside.

Python's parser recurses once per nesting level, so a body of ``[[[[…]]]]`` a few thousand levels deep ends
in ``RecursionError`` (a 500) wherever it is parsed, and a big body costs memory before any rule can look
at it. The limits are checked on the bytes, before parsing: a body over ``max_bytes`` is a 413
(``PayloadTooLarge``, rule ``json_size``), one nested deeper than ``max_depth`` a 400 (``InvalidInput``, rule
``json_depth``). Request bodies are checked by :class:`shared.service.json_guard.JsonLimitMiddleware` in every
service and the gateway; :func:`loads` serves the other places (predict bodies, manifests, package manifests).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from shared.errors import ErrorDetail, InvalidInput, PayloadTooLarge

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "check_json", "json_depth", "loads", "too_large"]

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
# A JSON string (escapes included): what it holds never counts as nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (0 for a scalar), counted without parsing.

    Brackets inside strings do not count; malformed input gives some number and fails parsing later.
    """
    if b"[" not in data and b"{" not in data:
        return 0
    structural = _STRING.sub(b"", data) if b'"' in data else data
    steps = _STEP[np.frombuffer(structural, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def check_json(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "the request body",
) -> None:
    """Raise ``PayloadTooLarge`` (413) or ``InvalidInput`` (400) if ``data`` breaks a limit."""
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes, what)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # not enough openers to nest deeper (a predict body's few rows): no need to measure
    depth = json_depth(data)
    if depth > max_depth:
        msg = f"{what} nests JSON {depth} levels deep; at most {max_depth}"
        raise InvalidInput(msg, details=[ErrorDetail(rule="json_depth", msg=msg, value=depth)])


def too_large(size: int, max_bytes: int, what: str = "the request body") -> PayloadTooLarge:
    msg = f"{what} has {size} bytes of JSON; at most {max_bytes}"
    return PayloadTooLarge(msg, details=[ErrorDetail(rule="json_size", msg=msg, value=size)])


def loads(
    data: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "the request body",
) -> Any:
    """``json.loads`` within the limits; invalid JSON is an ``InvalidInput`` (rule ``json_invalid``)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_json(raw, max_bytes=max_bytes, max_depth=max_depth, what=what)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        msg = f"{what} is not valid JSON: {exc}"
        raise InvalidInput(msg, details=[ErrorDetail(rule="json_invalid", msg=msg)]) from exc
