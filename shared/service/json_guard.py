"""The JSON limits on every request body, before any route (or the gateway's proxy) parses it.

A body FastAPI would parse as JSON (content type ``application/json``, ``application/*+json`` or none) is
read here, at most ``max_json_bytes`` of it, and checked with :func:`shared.json_limits.check_json`; the
route then receives the same bytes. A declared ``Content-Length`` over the limit is refused before a byte is
read, so a 50 MB body costs nothing. Other bodies (multipart uploads, images) pass untouched.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import ExeMLError
from shared.json_limits import check_json, too_large

__all__ = ["JsonLimitMiddleware", "is_json_content_type", "replay_body"]


def is_json_content_type(value: str | None) -> bool:
    """Whether FastAPI would parse a body of this content type as JSON (it does when there is none)."""
    if not value:
        return True
    media = value.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if scope["type"] != "http" or not is_json_content_type(_header(headers, b"content-type")):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(headers, receive)
            check_json(body, max_bytes=self.max_bytes, max_depth=self.max_depth)
        except ExeMLError as exc:
            await JSONResponse(exc.body(), status_code=exc.status_code)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _read(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        declared = _header(headers, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise too_large(int(declared), self.max_bytes)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise too_large(size, self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an app called after ``body`` was read: the body once, then the server's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as the server's would

    return replay
