"""Batch services on the real Triton, PostgreSQL, RabbitMQ and S3: 1,000 inputs of each task type, answered
once each as real-time predictions answer them, through a SIGKILL of the worker mid-way (its successor resumes
at the last recorded chunk); and the rules (tenancy, overlap, stop, delete)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa

from shared.testing.datagen import wav_bytes
from shared.testing.model_packages import deploy_version, png_bytes, upload_version
from shared.testing.packages_by_type import package_files, same
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"
INPUTS = 1000
BAD = 3  # of them, inputs the model cannot read (an error line each)
CHUNK = 20
TEXTS = ["很好", "服务很差", "产品不错 abc", "差差差", "hello bad", "好 服务 ij"]


def batch_inputs(task: str) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """The objects of the source folder and the inputs they hold, in the batch service's order: each input
    ``{"name", "line"/"row", "request"}`` where ``request`` is the real-time predict call's keyword arguments."""
    if task in ("image_classification", "object_detection", "sound_classification"):
        field, suffix = ("sound", "wav") if task == "sound_classification" else ("images", "png")
        files = {f"in-{i:04d}.{suffix}": _media(task, i) for i in range(INPUTS - BAD)}
        files |= {f"in-bad-{j}.{suffix}": b"RIFF not a wav" for j in range(BAD)}
        inputs = [{"name": n, "request": {"files": {field: (n, files[n])}}} for n in sorted(files)]
        return files | {"notes.md": b"not an input"}, inputs
    if task == "text_classification":
        return _text_files()
    return _csv_files()


def _media(task: str, i: int) -> bytes:
    if task == "sound_classification":
        return wav_bytes(150.0 + 3 * i, seconds=0.2 + 0.05 * (i % 4), seed=i)
    return png_bytes(16 + i % 9, 14 + i % 7, seed=i)


def _text_files() -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    files: dict[str, bytes] = {}
    inputs: list[dict[str, Any]] = []
    for f, (start, stop) in enumerate([(0, 300), (300, 700), (700, INPUTS)]):
        name, lines = f"part-{f}.txt", []
        for i in range(start, stop):
            lines.append(f"{TEXTS[i % len(TEXTS)]} {i}")
            inputs.append({"name": name, "line": len(lines), "request": {"json": {"text": lines[-1]}}})
            if i % 97 == 0:
                lines.append("   ")  # blank lines are no inputs
        files[name] = ("\n".join(lines) + "\n").encode()
    return files, inputs


def _csv_files() -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    files: dict[str, bytes] = {}
    inputs: list[dict[str, Any]] = []
    for f, (start, stop) in enumerate([(0, 450), (450, 451), (451, INPUTS)]):
        name, out = f"rows-{f}.csv", io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["attr_1", "attr_2", "attr_3"])
        for n, i in enumerate(range(start, stop), 1):
            row = [f"{(i % 17) / 4 - 2:.2f}", f"{(i % 11) / 3 - 1.5:.3f}", f"{(i % 5) - 2}"]
            if i in (5, 451, 998):
                row[1] = "abc"  # not a number: an error line
            writer.writerow(row)
            body = {"data": {"req_data": [dict(zip(["attr_1", "attr_2", "attr_3"], row, strict=True))]}}
            inputs.append({"name": name, "row": n, "request": {"json": body}})
        files[name] = out.getvalue().encode()
    return files, inputs


async def put_all(store, folder: str, files: dict[str, bytes]) -> None:
    gate = asyncio.Semaphore(16)

    async def put(name: str, data: bytes) -> None:
        async with gate:
            await store.put(f"{folder}{name}", data)

    await asyncio.gather(*(put(n, d) for n, d in files.items()))


async def real_time_answers(inference, service_id: str, task: str, inputs: list[dict]) -> list[dict]:
    """``{"result": …}`` or ``{"rule": …}`` of each input predicted by a real-time service."""
    gate = asyncio.Semaphore(8)

    async def one(item: dict) -> dict:
        async with gate:
            response = await inference.post(f"/v1/infers/{service_id}", **item["request"])
        if response.status_code != 200:
            assert response.status_code == 400, response.text
            return {"rule": response.json()["details"][0]["rule"]}
        body = response.json()
        return {"result": body["data"]["resp_data"][0] if task == "predictive_analytics" else body}

    return await asyncio.gather(*(one(item) for item in inputs))


async def batch_row(runtime, service_id: str) -> dict[str, Any]:
    table = runtime.definition.metadata.tables["batch_services"]
    async with runtime.db.session() as session:
        row = (await session.execute(sa.select(table).where(table.c.id == service_id))).mappings().one()
        return dict(row)


async def event_types(runtime, service_id: str) -> list[str]:
    outbox = runtime.definition.messaging.outbox
    async with runtime.db.session() as session:
        rows = await session.execute(sa.select(outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.id))
        return [t for t, envelope in rows if json.loads(envelope).get("subject") == service_id]


@pytest.mark.parametrize(
    "task",
    [
        "image_classification",
        "object_detection",
        "sound_classification",
        "text_classification",
        "predictive_analytics",
    ],
)
async def test_1000_inputs_answered_once_through_a_worker_kill(
    task: str, serving_platform, batch_workers
) -> None:
    started = time.perf_counter()
    platform = await serving_platform(batch_slots=0, batch_chunk_inputs=CHUNK)
    runtime = platform.runtimes["inference"]
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    version = await upload_version(registry, task.replace("_", "-"), package_files(task))
    files, inputs = batch_inputs(task)
    src, dest = platform.tenant_uri("batch/in/"), platform.tenant_uri("batch/out/")
    await put_all(runtime.store, src, files)
    created = await inference.post(
        "/v1/batch-services",
        json={
            "service_name": "batch-1",
            "infer_type": "batch",
            "config": [
                {
                    "model_id": version["model_id"],
                    "model_version": version["model_version"],
                    "src_path": src,
                    "dest_path": dest,
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    service_id = created.json()["service_id"]
    assert created.json()["status"] == "deploying" and created.json()["config"][0]["task_type"] == task
    chunks = -(-len(inputs) // CHUNK)

    # Worker 1 is killed (SIGKILL: no clean-up, its lease left to run out) a few chunks in.
    first = batch_workers(platform, "worker-1")

    async def a_few_chunks_in():
        return (await batch_row(runtime, service_id))["next_chunk"] >= 5

    await wait_until(a_few_chunks_in, timeout=120, interval=0.02, what="worker 1 to answer 5 chunks")
    first.kill()
    row = await batch_row(runtime, service_id)
    killed_at = row["next_chunk"]
    assert row["status"] == "running" and 5 <= killed_at < chunks, (row["status"], killed_at, chunks)
    assert row["lease_holder"] is not None  # not given back: the successor waits for it to run out
    mid = (await inference.get(f"/v1/batch-services/{service_id}")).json()
    assert mid["input_count"] == len(inputs) and mid["processed_count"] == killed_at * CHUNK
    assert mid["progress"] == 100 * killed_at * CHUNK // len(inputs)

    # Worker 2 takes over where worker 1's last checkpoint was.
    second = batch_workers(platform, "worker-2")

    async def finished():
        body = (await inference.get(f"/v1/batch-services/{service_id}")).json()
        assert body["status"] not in ("failed", "stopped"), body
        return body if body["status"] == "finished" else None

    done = await wait_until(finished, timeout=240, interval=0.2, what="the batch service to finish")
    batch_seconds = time.perf_counter() - started
    assert re.search(rf'"next_chunk": {killed_at}\b', second.log_text()), second.log_text()[-3000:]
    bad = 0 if task == "text_classification" else BAD
    assert done["progress"] == 100 and done["processed_count"] == len(inputs) == INPUTS
    assert done["failed_count"] == bad and done["finished_at"] is not None

    # One line per input, in input order, none twice; the parts are gone.
    lines = [json.loads(line) for line in (await runtime.store.get(done["results"][0])).decode().splitlines()]
    assert [line["index"] for line in lines] == list(range(len(inputs)))
    position = "row" if task == "predictive_analytics" else "line"
    assert [(line["source"], line.get(position)) for line in lines] == [
        (f"{src}{item['name']}", item.get(position)) for item in inputs
    ]
    assert await runtime.store.list(platform.bucket, f"{dest.split('/', 3)[3]}_parts/") == []

    # Each answer is the real-time service's answer to the same input (an error line: the same rule).
    service = await deploy_version(inference, version, "real-time-1")
    expected = await real_time_answers(inference, service, task, inputs)
    for line, want in zip(lines, expected, strict=True):
        if "rule" in want:
            assert line["error"]["rule"] == want["rule"], line
        else:
            assert "result" in line and same(line["result"], want["result"]), (line, want)
    assert sum(1 for line in lines if "error" in line) == bad

    if task == "predictive_analytics":
        table = list(csv.DictReader(io.StringIO((await runtime.store.get(done["results"][1])).decode())))
        assert len(table) == len(inputs)
        assert [r["predict"] for r in table] == [
            str(line.get("result", {}).get("predict", "")) for line in lines
        ]
        assert sum(1 for r in table if r["error"].startswith("value_not_numeric")) == bad

    # Events: created, started once (the successor did not list the inputs again), progress, finished.
    async def all_events():
        kinds = await event_types(runtime, service_id)
        return kinds if kinds and kinds[-1] == "inference.batch_service.finished.v1" else None

    kinds = await wait_until(all_events, timeout=30, what="the finished event in the outbox")
    assert kinds[:2] == ["inference.batch_service.created.v1", "inference.batch_service.started.v1"]
    assert kinds.count("inference.batch_service.started.v1") == 1
    assert 1 <= kinds.count("inference.batch_service.progressed.v1") <= 10
    print(f"{task}: {INPUTS} inputs in {batch_seconds:.1f}s (set-up, kill and resume included)")


async def test_rules_stop_and_delete(serving_platform) -> None:
    """Folders only in the tenant's own storage and apart; a stop ends the batch service with the answers so
    far (one line per answered input); only an ended batch service can be deleted, its results stay."""
    platform = await serving_platform(batch_chunk_inputs=5)
    runtime = platform.runtimes["inference"]
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    version = await upload_version(registry, "texts", package_files("text_classification"))
    src, dest = platform.tenant_uri("rules/in/"), platform.tenant_uri("rules/out/")
    lines = "\n".join(f"{TEXTS[i % len(TEXTS)]} {i}" for i in range(400))
    await runtime.store.put(f"{src}texts.txt", lines.encode())
    entry = {"model_id": version["model_id"], "model_version": version["model_version"]}

    async def create(name: str, **paths: str):
        config = {**entry, "src_path": src, "dest_path": dest, **paths}
        return await inference.post("/v1/batch-services", json={"service_name": name, "config": [config]})

    other = await create("other", src_path=platform.tenant_uri("in/", tenant_id="tenant-b"))
    assert other.status_code == 403 and other.json()["details"][0]["field"] == "config.0.src_path"
    platform_area = await create("models", dest_path=f"s3://{platform.bucket}/models/")
    assert platform_area.status_code == 403
    inside = await create("inside", dest_path=f"{src}answers/")
    assert inside.status_code == 400
    assert inside.json()["details"][0]["rule"] == "dest_path_overlaps_src_path"
    unknown = await create("unknown", model_version="9.9.9")
    assert unknown.status_code == 400 and unknown.json()["details"][0]["rule"] == "model_version_unknown"

    created = await create("stopped-one")
    assert created.status_code == 201, created.text
    service_id = created.json()["service_id"]
    assert (await create("stopped-one")).status_code == 409
    assert (await inference.delete(f"/v1/batch-services/{service_id}")).status_code == 400  # running

    async def some_answered():
        return (await inference.get(f"/v1/batch-services/{service_id}")).json()["processed_count"] >= 10

    await wait_until(some_answered, timeout=60, interval=0.02, what="a few chunks answered")
    stopping = await inference.put(f"/v1/batch-services/{service_id}", json={"status": "stopped"})
    assert stopping.status_code == 200 and stopping.json()["status"] in ("stopping", "finished")

    async def ended():
        body = (await inference.get(f"/v1/batch-services/{service_id}")).json()
        return body if body["status"] in ("stopped", "finished") else None

    body = await wait_until(ended, timeout=60, what="the batch service to stop")
    assert body["status"] == "stopped", body  # 80 chunks of 5: a stop lands before the end
    answered = [json.loads(line) for line in (await runtime.store.get(body["results"][0])).splitlines()]
    assert [line["index"] for line in answered] == list(range(body["processed_count"]))
    assert 10 <= body["processed_count"] < 400 and body["progress"] < 100
    again = await inference.put(f"/v1/batch-services/{service_id}", json={"status": "stopped"})
    assert again.status_code == 200 and again.json()["status"] == "stopped"
    listed = (await inference.get("/v1/batch-services", params={"status": "stopped"})).json()
    assert listed["total"] == 1 and listed["items"][0]["service_id"] == service_id
    assert (
        await platform.client("inference", "tenant-b").get(f"/v1/batch-services/{service_id}")
    ).status_code == 404
    assert (await inference.delete(f"/v1/batch-services/{service_id}")).status_code == 204
    assert (await inference.get(f"/v1/batch-services/{service_id}")).status_code == 404
    assert await runtime.store.exists(body["results"][0])
