"""One endpoint of a service app answered ahead of FastAPI's routing, dependency solving and exception middleware.

A predict through FastAPI paid more for the framework around the endpoint (route matching, the exception and
exit-stack middleware, dependency solving and parameter validation) than for the endpoint itself
(``bench_serving.py``: half of the inference service's CPU per table predict). :func:`serve_hot` puts a
handler in front of all that, inside the app's request context and JSON limits, so ids, access log, metrics
and body limits are the same. The handler answers the usual request and returns ``None``, before it reads the
body, for any other (a malformed id, query parameters): the app's own route answers those,
validates them and documents the endpoint, as before. An error the handler raises is rendered by the app's
exception handlers, as if the route had raised it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HotHandler", "HotRoute", "answer_in_process", "serve_hot"]

HotHandler = Callable[[Request, dict[str, str]], Awaitable[Response | None]]


def serve_hot(app: FastAPI, method: str, pattern: str, handler: HotHandler) -> None:
    """Answer ``method`` requests whose whole path matches ``pattern`` (a regex; its named groups are the
    handler's ``params``) with ``handler`` when it takes them. Call before the app serves its first request."""
    if app.middleware_stack is not None:
        raise RuntimeError("serve_hot after the app started: its middleware is built")
    route = HotRoute(method, re.compile(pattern), handler)
    app.state.hot_routes = [*getattr(app.state, "hot_routes", []), route]
    # Starlette wraps the router in app.user_middleware from first (outermost) to last: the hot path goes
    # last, inside the request context and JSON limits that create_service_app adds.
    app.user_middleware.append(Middleware(_HotPath, route=route))


async def answer_in_process(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer a request for ``app`` with its hot path, if one takes it, without the app's middleware (the
    caller, the embedded gateway, has its own request context, limits and error rendering); ``False`` if
    none takes it, before anything is read."""
    for route in getattr(getattr(app, "state", None), "hot_routes", ()):
        if await route.answer(app, scope, receive, send):
            return True
    return False


@dataclass(frozen=True)
class HotRoute:
    method: str
    regex: re.Pattern[str]
    handler: HotHandler

    async def answer(self, app: FastAPI, scope: Scope, receive: Receive, send: Send) -> bool:
        """Whether this route answered the request (sent its response)."""
        if scope["type"] != "http" or scope["method"] != self.method:
            return False
        match = self.regex.fullmatch(scope["path"])
        if match is None:
            return False
        scope["app"] = app
        request = Request(scope, receive, send)
        try:
            response = await self.handler(request, match.groupdict())
        except Exception as exc:
            render = _exception_handler(app, exc)
            if render is None:
                raise  # the app's server-error handler answers it, as for any route
            response = await render(request, exc)
        if response is None:
            return False
        await response(scope, receive, send)
        return True


class _HotPath:
    def __init__(self, app: ASGIApp, *, route: HotRoute) -> None:
        self.app, self.route = app, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.route.answer(scope.get("app", self.app), scope, receive, send):
            await self.app(scope, receive, send)


def _exception_handler(
    app: FastAPI, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The handler the app's exception middleware would pick for ``exc`` (its class or nearest base), not the
    catch-all one of ``Exception``, which the outermost middleware runs."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler  # type: ignore[return-value]  # Starlette types them loosely
    return None
