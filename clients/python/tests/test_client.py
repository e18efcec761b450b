"""The Python client against ``make run``'s process: paging, typed errors, events; retries against a stand-in
network (httpx's MockTransport) since a real server does not fail on demand."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from exeml_client import AsyncClient, BadRequest, Client, NotFound, Unauthorized
from exeml_client.errors import ServiceUnavailable
from exeml_client.uploads import upload_folder

from shared.testing import datagen


class _Recording(httpx.HTTPTransport):
    """Real HTTP that notes the ``offset`` of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.offsets.append(int(request.url.params["offset"]))
        return super().handle_request(request)


def _text_dataset(api: Client, name: str, samples: int) -> str:
    dataset = api.datasets.create(name, "text_classification")
    files = datagen.text_files(per_class=samples // 2)
    api.datasets.upload(dataset.dataset_id, [(n, data, "text/plain") for n, data in files.items()])
    return dataset.dataset_id


def test_iterators_page_through_250_samples(gateway, api: Client) -> None:
    dataset_id = _text_dataset(api, f"paging-{int(time.time())}", 250)
    assert api.datasets.get(dataset_id).sample_count == 250
    network = _Recording()
    with Client(gateway.url, gateway.key, transport=network) as counting:
        ids = [s.sample_id for s in counting.datasets.samples(dataset_id, page_size=40)]
    assert len(ids) == len(set(ids)) == 250
    assert network.offsets == [
        0,
        40,
        80,
        120,
        160,
        200,
        240,
    ]  # seven requests, each where the last page ended

    async def walk() -> list[str]:
        async with AsyncClient(gateway.url, gateway.key) as aapi:
            return [s.sample_id async for s in aapi.datasets.samples(dataset_id, labeled=True, page_size=100)]

    assert sorted(asyncio.run(walk())) == sorted(ids)
    # The usage filter is documented as TRAIN/EVAL and still takes any case (no version yet: no sample has one).
    for usage in ("TRAIN", "train", "Eval"):
        answer = httpx.get(
            f"{gateway.url}/v1/datasets/{dataset_id}/samples",
            params={"usage": usage},
            headers={"X-Auth-Token": gateway.key},
            timeout=60,
        )
        assert answer.status_code == 200 and answer.json()["total"] == 0, answer.text


def test_errors_are_typed_with_modelarts_code_and_message(gateway, api: Client) -> None:
    with pytest.raises(NotFound) as missing:
        api.datasets.get("0" * 32)
    assert missing.value.status_code == 404 and missing.value.error_code.startswith("ModelArts.")
    assert "0" * 32 in missing.value.error_msg
    with Client(gateway.url, "exeml_wrong-key") as stranger, pytest.raises(Unauthorized) as refused:
        stranger.datasets.get("0" * 32)
    assert refused.value.error_code == "ModelArts.0203"


def test_events_iterate_the_tenants_server_sent_events(gateway) -> None:
    async def first_dataset_event() -> tuple[str, str]:
        async with AsyncClient(gateway.url, gateway.key) as aapi:
            stream = aapi.events(["dataset.*"])
            reader = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(1)  # the stream is connected before the dataset exists
            created = await aapi.datasets.create(f"events-{int(time.time())}", "text_classification")
            event = await asyncio.wait_for(reader, timeout=30)
            await stream.aclose()
            return created.dataset_id, event

    dataset_id, event = asyncio.run(first_dataset_event())
    assert event.type == "dataset.created.v1" and event.data["dataset_id"] == dataset_id


class _Flaky:
    """A network answering 503 twice, then 200; it counts the requests."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= 2:
            return httpx.Response(
                503, json={"error_code": "ModelArts.0503", "error_msg": "database restarting"}
            )
        return httpx.Response(200, json={"items": [], "total": 0})


def test_only_idempotent_calls_are_retried() -> None:
    flaky = _Flaky()
    with Client("http://exeml.test", "k", transport=httpx.MockTransport(flaky)) as api:
        assert list(api.datasets.list()) == []
    assert flaky.calls == 3  # a GET: two 503s retried with backoff, then the answer

    flaky = _Flaky()
    with (
        Client("http://exeml.test", "k", transport=httpx.MockTransport(flaky)) as api,
        pytest.raises(ServiceUnavailable) as refused,
    ):
        api.projects.next("p" * 32)
    assert flaky.calls == 1 and refused.value.error_msg == "database restarting"  # a POST is sent once


def test_deploy_can_switch_auto_stop_off(gateway, api: Client) -> None:
    """``auto_stop=False`` reaches the API: with a schedule beside it the API names the field; alone it is a
    valid request (the unknown project is then the only problem)."""
    with pytest.raises(BadRequest) as both:
        api.projects.deploy("0" * 32, auto_stop=False, auto_stop_hours=2)
    assert both.value.status_code == 400 and [d["field"] for d in both.value.details] == ["auto_stop"]
    with pytest.raises(NotFound):
        api.projects.deploy("0" * 32, auto_stop=False)


def test_an_upload_with_bad_files_stores_the_good_ones_and_names_each_bad_one(
    gateway, api: Client, tmp_path
) -> None:
    """One request: 207 with the rejected files; ``upload_folder`` accounts for every file (uploaded or failed)."""
    dataset = api.datasets.create(f"upload207-{int(time.time() * 1000)}", "image_classification")
    images = datagen.image_classification_files(per_class=2)
    bad = {"broken.png": b"these bytes are not a PNG", "broken.txt": b"red\n", "lonely.txt": b"red\n"}
    for name, data in (images | bad).items():
        (tmp_path / name).write_bytes(data)
    first_three = list(images.items())[:6]  # three images and their labels
    request = [
        (n, d, "application/octet-stream") for n, d in first_three + [("broken.png", bad["broken.png"])]
    ]
    answer = api.datasets.upload(dataset.dataset_id, request)
    assert answer.success is False and len(answer.samples) == 3
    assert [(r.file, r.rule) for r in answer.rejected] == [("broken.png", "image_decode")]

    second = api.datasets.create(f"upload207b-{int(time.time() * 1000)}", "image_classification")
    outcomes = {o.file: o for o in upload_folder(api, second.dataset_id, tmp_path)}
    assert {n for n, o in outcomes.items() if o.status == "uploaded"} == set(images)
    assert {(n, o.status, o.rule) for n, o in outcomes.items() if o.status != "uploaded"} == {
        ("broken.png", "failed", "image_decode"),
        ("broken.txt", "failed", "pair_rejected"),
        ("lonely.txt", "failed", "companion_without_sample"),
    }
    assert api.datasets.get(second.dataset_id).sample_count == len(images) // 2


def test_flavors_name_the_guides_specifications_and_what_runs_here(api: Client) -> None:
    images = api.projects.flavors("image_classification")
    specs = {s.name: s for s in images.specifications}
    assert specs["Compute-intensive 3 instance (CPU)"].maps_to == "modelarts.vm.cpu.8u"
    assert specs["NV_P4"].available is images.gpu_available
    tables = api.projects.flavors("predictive_analytics")
    assert {f.category for f in tables.training_flavors + tables.specifications} == {"CPU"}


def test_predict_asks_for_numbers_only_when_told(tmp_path) -> None:
    """Answers carry the guide's decimal strings; ``numbers=True`` sends ``?numbers=true`` (ADR 0022)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        numbers = request.url.params.get("numbers") == "true"
        return httpx.Response(
            200, json={"predicted_label": "pos", "score": 0.9 if numbers else "0.900", "scores": []}
        )

    text = tmp_path / "a.txt"
    text.write_text("很好")
    with Client("http://exeml.test", "k", transport=httpx.MockTransport(answer)) as api:
        assert api.services.predict("s" * 32, text, "text_classification")["score"] == "0.900"
        assert api.services.predict("s" * 32, text, "text_classification", numbers=True)["score"] == 0.9
    assert [dict(r.url.params) for r in seen] == [{}, {"numbers": "true"}]
    assert all(r.url.path == f"/v1/infers/{'s' * 32}" for r in seen)
