"""How a predict request becomes a predictor payload, for every task type (no Triton needed)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from inference.predict import extract_payload
from inference.routing import WeightedRouter

from shared.service.http import install_error_handlers


def _client(max_bytes: int) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/{task_type}")
    async def echo(task_type: str, request: Request) -> JSONResponse:
        payload, meta = await extract_payload(request, task_type, max_bytes=max_bytes)
        return JSONResponse({"payload": payload.decode("latin-1"), "echo": meta})

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def client():
    return _client(2048)


@pytest.mark.parametrize("task_type", ["image_classification", "object_detection"])
async def test_image_field_images_or_file(client, task_type: str) -> None:
    for field in ("images", "file"):
        r = await client.post(f"/{task_type}", files={field: ("a.png", b"PNGDATA", "image/png")})
        assert r.json()["payload"] == "PNGDATA"
    wrong = await client.post(f"/{task_type}", files={"sound": ("a.wav", b"x", "audio/wav")})
    assert wrong.status_code == 400 and wrong.json()["details"][0]["rule"] == "file_missing"
    as_json = await client.post(f"/{task_type}", json={"images": "x"})
    assert as_json.status_code == 400 and as_json.json()["details"][0]["rule"] == "content_type"
    empty = await client.post(f"/{task_type}", files={"images": ("a.png", b"", "image/png")})
    assert empty.json()["details"][0]["rule"] == "file_empty"


async def test_a_multipart_body_is_read_in_memory_file_fields_first_in_their_order() -> None:
    client = _client(4 * 1024 * 1024)
    photo = bytes(range(256)) * 8192  # 2 MiB: Starlette's form parser spooled files over 1 MiB to disk
    big = await client.post("/image_classification", files={"images": ("p.jpg", photo, "image/jpeg")})
    assert big.status_code == 200 and big.json()["payload"].encode("latin-1") == photo
    # A text field named "images" is not a file: the file under "file" is the image.
    text_then_file = await client.post(
        "/image_classification", data={"images": "not a file"}, files={"file": ("a.png", b"PNG", "image/png")}
    )
    assert text_then_file.json()["payload"] == "PNG"
    # "images" comes before "file" whatever the order of the parts.
    both = await client.post(
        "/image_classification",
        files=[("file", ("b.png", b"SECOND", "image/png")), ("images", ("a.png", b"FIRST", "image/png"))],
    )
    assert both.json()["payload"] == "FIRST"
    for content_type, body in [
        ("multipart/form-data", b"--x\r\n"),  # no boundary in the content type
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--y\r\ngarbage"),
    ]:
        bad = await client.post("/image_classification", content=body, headers={"content-type": content_type})
        assert bad.status_code == 400 and bad.json()["details"][0]["rule"] == "multipart_invalid", body

    async def chunks():
        for _ in range(5):
            yield b"x" * 1024 * 1024  # no content length to check first

    streamed = await client.post(
        "/image_classification", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert streamed.status_code == 413


async def test_sound_field_sound_file_or_images(client) -> None:
    for field in ("sound", "file", "images"):
        r = await client.post("/sound_classification", files={field: ("a.wav", b"RIFF", "audio/wav")})
        assert r.status_code == 200 and r.json()["payload"] == "RIFF"


async def test_text_and_table_bodies(client) -> None:
    assert (await client.post("/text_classification", json={"text": "héllo"})).json()["payload"] == "hÃ©llo"
    assert (await client.post("/text_classification", json={"input": "x"})).json()["payload"] == "x"
    no_text = await client.post("/text_classification", json={"txt": "x"})
    assert no_text.status_code == 400 and no_text.json()["details"][0]["field"] == "text"
    rows = [{"attr_1": 1}]
    table = await client.post(
        "/predictive_analytics", json={"meta": {"uuid": "u"}, "data": {"req_data": rows}}
    )
    assert json.loads(table.json()["payload"]) == rows and table.json()["echo"] == {"meta": {"uuid": "u"}}
    broken = await client.post(
        "/predictive_analytics", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["details"][0]["rule"] == "json_invalid"
    # The handler's own parse is limited too (1000 levels used to end in RecursionError: a 500).
    deep = b'{"data": {"req_data": [' + b"[" * 1000 + b"]" * 1000 + b"]}}"
    nested = await client.post(
        "/predictive_analytics", content=deep, headers={"content-type": "application/json"}
    )
    assert nested.status_code == 400 and nested.json()["details"][0]["rule"] == "json_depth"
    empty = await client.post(
        "/predictive_analytics", content=b"", headers={"content-type": "application/json"}
    )
    assert empty.status_code == 400 and empty.json()["error_code"] == "ModelArts.4202"
    big = await client.post("/predictive_analytics", json={"data": {"req_data": [{"a": "x" * 4000}]}})
    assert big.status_code == 413


def test_weighted_round_robin_is_exact_and_interleaved() -> None:
    router = WeightedRouter()
    picks = [router.pick("s", [("a", 70), ("b", 30)]) for _ in range(1000)]
    assert picks.count(0) == 700 and picks.count(1) == 300
    assert max(len(run) for run in "".join(map(str, picks)).split("1")) <= 3  # no long runs of one version
    assert {router.pick("s", [("a", 0), ("b", 100)]) for _ in range(50)} == {1}


def test_the_documented_predict_formats_validate_their_examples() -> None:
    """POST /v1/infers documents a multipart file and JSON bodies per task type and a typed answer; every
    named example validates against its schema, and an answer of each predictor matches the answer schema."""
    from fastapi.openapi.utils import get_openapi
    from inference.numbers import with_numbers
    from inference.router import infer_router
    from jsonschema import Draft202012Validator

    app = FastAPI()
    app.include_router(infer_router)
    doc = get_openapi(title="t", version="1", routes=app.routes)
    op = doc["paths"]["/v1/infers/{service_id}"]["post"]
    assert {"multipart/form-data", "application/json"} == set(op["requestBody"]["content"])
    assert len(op["x-codeSamples"]) == 6  # one per task type, and ?numbers=true
    (numbers,) = [q for q in op["parameters"] if q["in"] == "query"]
    assert numbers["name"] == "numbers" and numbers["schema"]["type"] == "boolean"
    assert numbers["schema"]["default"] is False and numbers["examples"]["numbers"]["value"] is True
    answer = op["responses"]["200"]["content"]["application/json"]
    request = op["requestBody"]["content"]["application/json"]

    def valid(value, media) -> bool:
        return Draft202012Validator({**media["schema"], "components": doc["components"]}).is_valid(value)

    assert all(valid(e["value"], request) for e in request["examples"].values())
    assert all(valid(e["value"], answer) for e in answer["examples"].values())
    assert valid({"input": "x"}, request) and not valid({"txt": "x"}, request)
    assert not valid({"data": {"req_data": []}}, request)
    for produced in (
        # the guide's decimal strings (ADR 0022)
        {"predicted_label": "a", "scores": [["a", "0.900"], ["b", "0.100"]]},
        {"predicted_label": "a", "score": "0.900", "scores": [["a", "0.900"]]},
        {
            "detection_classes": ["a"],
            "detection_boxes": [["1.00", "2.50", "3.00", "4.00"]],
            "detection_scores": ["0.972"],
        },
        {"detection_classes": [], "detection_boxes": [], "detection_scores": []},
        {"data": {"resp_data": [{"predict": 12.5}]}},
        # ?numbers=true
        {"predicted_label": "a", "scores": [["a", 0.9], ["b", 0.1]]},
        {"predicted_label": "a", "score": 0.9, "scores": [["a", 0.9]]},
        {"detection_classes": ["a"], "detection_boxes": [[1.0, 2.5, 3.0, 4.0]], "detection_scores": [0.972]},
    ):
        assert valid(produced, answer), produced
    assert not valid({"label": "a"}, answer)
    assert not valid({"predicted_label": "a", "score": "high", "scores": [["a", "high"]]}, answer)
    strings = [e["value"] for k, e in answer["examples"].items() if not k.endswith("_numbers")]
    assert all(isinstance(e["scores"][0][1], str) for e in strings if "scores" in e)
    assert [e["value"] for k, e in answer["examples"].items() if k.endswith("_numbers")] == [
        with_numbers(e) for e in strings if "data" not in e
    ]
