"""HTTP plumbing every service app shares: request context, access log, metrics, error rendering."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, bind_context, current_context, new_id
from shared.errors import (
    Conflict,
    ErrorDetail,
    ExeMLError,
    Forbidden,
    InternalError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    error_body,
)
from shared.logging import get_logger

__all__ = [
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "RequestContextMiddleware",
    "allowed_methods",
    "install_error_handlers",
]

log = get_logger("exeml.http")
_ACCESS_LOG = logging.getLogger("exeml.http")
_REQUEST_ID, _CORRELATION_ID = REQUEST_ID_HEADER.lower().encode(), CORRELATION_ID_HEADER.lower().encode()
_REQUEST_ID_NAME, _CORRELATION_ID_NAME = REQUEST_ID_HEADER.encode(), CORRELATION_ID_HEADER.encode()

HTTP_REQUESTS = Counter(
    "exeml_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "exeml_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)

# The code of an HTTP error raised below our handlers (routing, body parsing): the generic error of its status.
_STATUS_CODES = {
    cls.status_code: cls.default_code
    for cls in (
        InvalidInput,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
}


def _route_table(app: ASGIApp) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    """(path regex, template, methods) of every route of ``app``, included routers flattened.

    FastAPI keeps included routers as one entry of ``app.routes``; ``iter_route_contexts`` yields their
    routes with the prefixes applied. Built once per app, on its first request (all routers are in by then).
    """
    state = getattr(app, "state", None)
    table = getattr(state, "_route_table", None) if state is not None else None
    if table is None:
        table = []
        for context in iter_route_contexts(list(getattr(app, "routes", []))):
            if context.path:
                regex, template, _ = compile_path(context.path)
                table.append((regex, template, frozenset(context.methods or ())))
        if state is not None:
            state._route_table = table
    return table


def _route_template(app: ASGIApp, scope: Scope) -> str:
    # Label metrics by route template, not raw path, so ids do not explode the series count.
    path, method = scope.get("path", ""), scope.get("method")
    for regex, template, methods in _route_table(app):
        if regex.match(path) and (not methods or method in methods):
            return template
    return "unmatched"


def allowed_methods(app: ASGIApp, scope: Scope, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """The methods the request's path allows, when its own method is not one of them (else ``[]``).

    Starlette's 405 names only the first route's methods; this names all of them. Only the most specific
    templates count: ``/samples/delete`` (POST) is not also ``/samples/{sample_id}`` (GET). ``ignore``
    leaves out templates such as the gateway's catch-all proxy.
    """
    path, method = scope.get("path", ""), scope.get("method")
    matching = [
        (template.count("{"), route_methods)
        for regex, template, route_methods in _route_table(app)
        if route_methods and template not in ignore and regex.match(path)
    ]
    if not matching:
        return []
    fewest = min(params for params, _ in matching)
    best = [route_methods for params, route_methods in matching if params == fewest]
    if any(method in route_methods for route_methods in best):
        return []
    return sorted(set().union(*best))


class RequestContextMiddleware:
    """Binds request/correlation ids (from headers or new), echoes them, logs and measures the request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service
        # The metric series of each (method, route, status) seen: ``labels()`` takes a lock and hashes the
        # label values on every call, a few microseconds a request for nothing.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id = None
        # Header names come in lower case, as ASGI servers give them (Starlette relies on it too).
        for key, value in scope["headers"]:
            if key == _REQUEST_ID:
                request_id = value.decode()
            elif key == _CORRELATION_ID:
                correlation_id = value.decode()
        request_id = request_id or new_id()
        correlation_id = correlation_id or request_id
        # For the server-error handler, which runs outside this middleware (and its bound context).
        scope.setdefault("state", {})["request_id"] = request_id
        ids = [(_REQUEST_ID_NAME, request_id.encode()), (_CORRELATION_ID_NAME, correlation_id.encode())]
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *ids]
            await send(message)

        started = time.perf_counter()
        with bind_context(request_id=request_id, correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route_template(scope.get("app", self.app), scope)
        method = scope["method"]
        series = self._series.get((method, route, status))
        if series is None:
            series = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)
        # The level is checked first: structlog would stamp and bind the event before logging drops it.
        if route not in ("/healthz", "/readyz", "/metrics") and _ACCESS_LOG.isEnabledFor(logging.INFO):
            log.info("request", method=method, path=scope["path"], status=status, ms=round(seconds * 1000, 1))


def _validation_details(exc: RequestValidationError) -> list[ErrorDetail]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        details.append(
            ErrorDetail(rule=err.get("type", "invalid"), msg=err.get("msg", ""), field=".".join(loc) or None)
        )
    return details


async def _exeml_error(_request: Request, exc: ExeMLError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    err = InvalidInput("request validation failed", details=_validation_details(exc))
    return JSONResponse(err.body(), status_code=400)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, f"ModelArts.0{exc.status_code}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = allowed_methods(request.app, request.scope)
        if allow:
            headers["Allow"] = ", ".join(allow)
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers or None
    )


async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
    # The database refused a value (NUL byte, too long, out of range) that the API's own rules let through:
    # the request is at fault, and each such rule belongs in the schema too; this is the safety net.
    reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    log.warning("value refused by the database", reason=reason)
    err = InvalidInput(
        f"a value of the request cannot be stored: {reason}",
        details=[ErrorDetail(rule="storage_limit", msg=reason)],
    )
    return JSONResponse(err.body(), status_code=400)


async def _unencodable_text(_request: Request, exc: UnicodeEncodeError) -> JSONResponse:
    # JSON may escape a lone surrogate ("\\udc00"); no UTF-8 store (PostgreSQL, S3 keys) can hold one.
    err = InvalidInput(
        "the request holds text that is not valid Unicode (a lone surrogate)",
        details=[ErrorDetail(rule="invalid_unicode", msg=str(exc)[:200])],
    )
    return JSONResponse(err.body(), status_code=400)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", error=repr(exc))
    request_id = getattr(request.state, "request_id", None) or current_context().request_id
    msg = f"internal error (request id {request_id})"
    return JSONResponse(error_body(InternalError.default_code, msg), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"error_code", "error_msg", "details"}``."""
    # Each handler takes its own exception class; Starlette types the argument as Exception.
    handlers: dict[type[Exception], Callable[[Request, Any], Awaitable[JSONResponse]]] = {
        ExeMLError: _exeml_error,
        RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error,
        DataError: _data_error,
        UnicodeEncodeError: _unencodable_text,
        Exception: _unexpected_error,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
