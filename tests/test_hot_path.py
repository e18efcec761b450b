"""serve_hot: an endpoint answered ahead of FastAPI's routing keeps the app's request context, metrics, JSON
limits and error bodies, and leaves the requests it declines to the app's routes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from dataset.definition import SERVICE
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from shared.context import current_context
from shared.errors import NotFound
from shared.service import create_service_app
from shared.service.hot_path import answer_in_process, serve_hot


async def _hot(request: Request, params: dict[str, str]) -> JSONResponse | None:
    if request.scope["query_string"]:
        return None  # declined: the route answers
    if params["thing"] == "missing":
        raise NotFound("no thing missing")
    if params["thing"] == "boom":
        raise RuntimeError("a bug")
    body = await request.body()
    return JSONResponse(
        {
            "via": "hot",
            "thing": params["thing"],
            "request_id": current_context().request_id,
            "bytes": len(body),
        }
    )


@pytest.fixture
def app(tmp_path):
    router = APIRouter()

    @router.post("/v1/things/{thing}")
    async def thing_route(thing: str) -> dict[str, str]:
        return {"via": "route", "thing": thing}

    application = create_service_app(SERVICE, SERVICE.settings_cls(data_dir=tmp_path), extra_routers=[router])
    serve_hot(application, "POST", r"/v1/things/(?P<thing>[a-z]+)", _hot)
    return application


async def test_the_hot_path_answers_inside_the_apps_context_and_declines_to_its_routes(app) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        hot = await client.post("/v1/things/abc", json={"a": 1}, headers={"X-Request-ID": "req-7"})
        declined = await client.post("/v1/things/abc?numbers=true")
        other_form = await client.post("/v1/things/ABC")  # the pattern does not match: the route answers
        wrong_method = await client.get("/v1/things/abc")
        missing = await client.post("/v1/things/missing")
        bug = await client.post("/v1/things/boom", headers={"X-Request-ID": "req-8"})
        too_deep = await client.post(
            "/v1/things/abc", content=b"[" * 5000 + b"]" * 5000, headers={"content-type": "application/json"}
        )
        metrics = (await client.get("/metrics")).text

    assert hot.json() == {"via": "hot", "thing": "abc", "request_id": "req-7", "bytes": 7}
    assert hot.headers["X-Request-ID"] == "req-7"
    assert declined.json() == {"via": "route", "thing": "abc"}
    assert other_form.json() == {"via": "route", "thing": "ABC"}
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert missing.status_code == 404 and missing.json()["error_msg"] == "no thing missing"
    assert bug.status_code == 500 and "req-8" in bug.json()["error_msg"]  # the app's internal-error body
    assert too_deep.status_code == 400  # the JSON limits run before the hot path
    assert 'route="/v1/things/{thing}",service="dataset",status="200"' in metrics.replace(
        'method="POST",', ""
    )


def test_the_hot_path_is_served_before_the_app_starts(app) -> None:
    app.middleware_stack = app.build_middleware_stack()
    with pytest.raises(RuntimeError, match="middleware is built"):
        serve_hot(app, "POST", r"/x", _hot)


async def test_in_process_a_caller_reaches_the_hot_path_without_the_apps_middleware(app) -> None:
    def scope(path: str) -> dict[str, Any]:
        return {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def unread() -> Message:
        raise AssertionError("a request the hot path declines is not read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    assert await answer_in_process(app, scope("/v1/things/abc"), receive, send)
    assert not await answer_in_process(app, scope("/v1/things/ABC"), unread, send)

    async def plain_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("answer_in_process does not call the app itself")

    assert not await answer_in_process(plain_asgi_app, scope("/v1/things/abc"), unread, send)

    start, body = sent
    assert start["status"] == 200 and json.loads(body["body"])["via"] == "hot"
    assert b"x-request-id" not in dict(start["headers"])  # the app's request-context middleware did not run
