"""JSON size and depth limits: the counting, and the middleware every service app installs."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import InvalidInput, PayloadTooLarge
from shared.json_limits import check_json, json_depth, loads
from shared.service.http import install_error_handlers
from shared.service.json_guard import JsonLimitMiddleware, is_json_content_type


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[["', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["]]]]", ["[", "\\"[[["]]', 2),
        ("[" * 10_000 + "]" * 10_000, 10_000),
        ('{"a":' * 70 + "1" + "}" * 70, 70),
    ],
)
def test_depth_is_counted_without_parsing_and_ignores_strings(text: str, depth: int) -> None:
    assert json_depth(text.encode()) == depth


def test_limits_refuse_with_400_or_413_naming_the_rule() -> None:
    with pytest.raises(InvalidInput) as deep:
        loads(b"[" * 10_000 + b"]" * 10_000)
    assert deep.value.details[0].rule == "json_depth"
    with pytest.raises(PayloadTooLarge) as big:
        check_json(b" " * 2049, max_bytes=2048)
    assert big.value.status_code == 413 and big.value.details[0].rule == "json_size"
    with pytest.raises(InvalidInput) as broken:
        loads(b'{"a": ')
    assert broken.value.details[0].rule == "json_invalid"
    assert loads(b'{"data": {"req_data": [{"x": 1}]}}') == {"data": {"req_data": [{"x": 1}]}}


def test_counting_eight_megabytes_is_fast() -> None:
    body = json.dumps({"rows": [{"text": 'a [ b { c " d', "v": [1, 2, 3]}] * 180_000}).encode()
    assert len(body) > 7_000_000
    started = time.perf_counter()
    assert json_depth(body) == 4
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, True),
        ("application/json", True),
        ("application/cloudevents+json; charset=utf-8", True),
        ("Application/JSON", True),
        ("multipart/form-data; boundary=x", False),
        ("image/png", False),
        ("text/plain", False),
    ],
)
def test_json_content_types_are_those_fastapi_parses(value: str | None, parsed: bool) -> None:
    assert is_json_content_type(value) is parsed


class Body(BaseModel):
    data: dict


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(JsonLimitMiddleware, max_bytes=1024 * 1024, max_depth=64)

    @app.post("/echo")
    async def echo(body: Body) -> dict:
        return body.data

    @app.post("/raw")
    async def raw(request: dict) -> dict:  # a body parsed by FastAPI (no model)
        return {"keys": sorted(request)}

    return app


async def test_middleware_refuses_deep_and_big_bodies_before_the_route_and_passes_the_rest() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as client:
        ok = await client.post("/echo", json={"data": {"a": [1, {"b": 2}]}})
        assert ok.status_code == 200 and ok.json() == {"a": [1, {"b": 2}]}
        deep = await client.post(
            "/echo",
            content=b'{"data":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            headers={"content-type": "application/json"},
        )
        assert deep.status_code == 400 and deep.json()["details"][0]["rule"] == "json_depth"
        no_type = await client.post("/raw", content=b"[" * 5000 + b"]" * 5000)  # FastAPI parses it as JSON
        assert no_type.status_code == 400 and no_type.json()["details"][0]["rule"] == "json_depth"
        big = await client.post(
            "/echo", content=b" " * (1024 * 1024 + 1), headers={"content-type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["details"][0]["rule"] == "json_size"

        async def chunks():  # no Content-Length: counted while read, stopped at the limit
            for _ in range(64):
                yield b" " * 65536

        streamed = await client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        other = await client.post("/echo", content=b"[" * 5000, headers={"content-type": "text/plain"})
        assert (
            other.status_code == 400 and other.json()["details"][0]["rule"] != "json_depth"
        )  # not JSON: the route's rule
