"""Dataset service benchmark (``make bench``): import throughput and sample-listing latency, each next to a
baseline measured in the same run on the same servers.

1. Import 5,000 small PNG images from S3 (a folder import task, end to end: listing, fetching, decoding and
   verifying every image, storing samples and events) vs. the raw floor: listing the same prefix and GETting every
   object with the same concurrency through the same client library.
2. p99 latency of ``GET /v1/datasets/{id}/samples`` (one page of 100, random offsets, with total count, labels,
   auth and JSON) on a 50,000-sample dataset vs. the bare ``SELECT`` of the same page on the same engine.

Needs PostgreSQL and RabbitMQ (as the tests); starts its own moto S3 server process.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from dataset.app import create_app
from dataset.definition import SERVICE
from dataset.models import Dataset, Sample
from PIL import Image

from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.context import new_id
from shared.db.base import utcnow
from shared.service import build_runtime
from shared.testing.infra import AMQP_URL, POSTGRES_URL
from shared.testing.platform import _delete_rabbit_objects

IMAGES = int(os.environ.get("BENCH_IMAGES", "5000"))
LISTED = int(os.environ.get("BENCH_LISTED_SAMPLES", "50000"))
ROUNDS = int(os.environ.get("BENCH_LIST_ROUNDS", "300"))
PAGE = 100
CONCURRENCY = 16
TENANT = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto_server did not start")


def _png(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (i % 256, (i * 7) % 256, 90)).save(out, format="PNG")
    return out.getvalue()


async def _gather_limited(coros, limit: int = CONCURRENCY):
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def bench_import(runtime, client: httpx.AsyncClient, bucket: str) -> None:
    store = runtime.store
    prefix = f"{runtime.storage_policy.home(TENANT).key}bench-images/"  # the tenant's own area
    await _gather_limited(
        [store.put(store.uri(bucket, f"{prefix}img_{i:05d}.png"), _png(i)) for i in range(IMAGES)], 32
    )

    started = time.perf_counter()
    listing = await store.list(bucket, prefix)
    await _gather_limited([store.get(info.uri) for info in listing])
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    created = (
        await client.post(
            "/v1/datasets",
            json={
                "dataset_name": "bench-import",
                "dataset_type": 0,
                "input_path": f"s3://{bucket}/{prefix}",
                "work_path": f"s3://{bucket}/{runtime.storage_policy.home(TENANT).key}bench-out/",
            },
        )
    ).json()
    while True:
        task = (
            await client.get(f"/v1/datasets/{created['dataset_id']}/import-tasks/{created['import_task_id']}")
        ).json()
        if task["status"] in ("COMPLETED", "FAILED"):
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == IMAGES, task
    raw_rate, import_rate = len(listing) / baseline, IMAGES / elapsed
    print(f"import {IMAGES} images from S3: {import_rate:8.1f} samples/s ({elapsed:.2f} s)")
    print(f"  baseline raw list + get:      {raw_rate:8.1f} objects/s ({baseline:.2f} s)")
    print(f"  ratio import / raw:           {import_rate / raw_rate:8.2f}")


async def _fill(runtime) -> str:
    dataset_id = new_id()
    async with runtime.db.session() as session:
        session.add(
            Dataset(
                id=dataset_id,
                tenant_id=TENANT,
                name="bench-list",
                description="",
                dataset_type=0,
                input_path="s3://x/in/",
                work_path="s3://x/out/",
                status=1,
            )
        )
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "tenant_id": TENANT,
            "dataset_id": dataset_id,
            "name": f"img_{i:06d}.jpg",
            "source_key": f"s3://x/in/img_{i:06d}.jpg",
            "source": f"s3://x/in/img_{i:06d}.jpg",
            "sample_type": 0,
            "size": 1000 + i,
            "labeled": i % 2 == 0,
            "created_at": now,
        }
        for i in range(LISTED)
    ]
    async with runtime.db.session() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(sa.insert(Sample), rows[start : start + 5000])
    async with runtime.db.engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE samples"))
    return dataset_id


async def bench_listing(runtime, client: httpx.AsyncClient) -> None:
    dataset_id = await _fill(runtime)
    rng = random.Random(7)
    offsets = [rng.randrange(0, LISTED - PAGE) for _ in range(ROUNDS)]
    url = f"/v1/datasets/{dataset_id}/samples"
    for offset in offsets[:20]:  # warm up both paths
        await client.get(url, params={"offset": offset, "limit": PAGE})
    api: list[float] = []
    for offset in offsets:
        started = time.perf_counter()
        response = await client.get(url, params={"offset": offset, "limit": PAGE})
        api.append(time.perf_counter() - started)
        assert response.status_code == 200 and len(response.json()["items"]) == PAGE
    bare: list[float] = []
    query = (
        sa.select(Sample)
        .where(Sample.tenant_id == TENANT, Sample.dataset_id == dataset_id)
        .order_by(Sample.created_at.desc(), Sample.id.desc())
        .limit(PAGE)
    )
    for offset in offsets:
        started = time.perf_counter()
        async with runtime.db.session() as session:
            rows = (await session.execute(query.offset(offset))).scalars().all()
        bare.append(time.perf_counter() - started)
        assert len(rows) == PAGE
    p_api, p_bare = _p99(api) * 1000, _p99(bare) * 1000
    print(
        f"list a page of {PAGE} of {LISTED} samples: p99 {p_api:7.2f} ms (p50 {statistics.median(api) * 1000:.2f} ms)"
    )
    print(
        f"  baseline bare SELECT:        p99 {p_bare:7.2f} ms (p50 {statistics.median(bare) * 1000:.2f} ms)"
    )
    print(f"  ratio API / bare SELECT:         {p_api / p_bare:7.2f}")


async def main() -> None:
    moto, endpoint = _start_moto()
    run = new_id()[:8]
    bucket, schema = f"bench-{run}", f"bench_{run}_dataset"
    settings = SERVICE.settings_cls(
        mode="distributed",
        database_url=POSTGRES_URL,
        db_schema=schema,
        bus="rabbitmq",
        amqp_url=AMQP_URL,
        bus_namespace=f"b{run}",
        storage="s3",
        storage_bucket=bucket,
        s3_endpoint=endpoint,
        s3_access_key="testing",
        s3_secret_key="testing",
        internal_token_secret="bench-secret-" + "x" * 32,
        log_level="WARNING",
    )
    runtime = build_runtime(SERVICE, settings)
    app = create_app(runtime=runtime)
    token = runtime.token_codec.issue(Principal(tenant_id=TENANT, subject="user:bench", roles=("admin",)))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://dataset",
        headers={INTERNAL_TOKEN_HEADER: token},
        timeout=120,
    )
    try:
        await runtime.migrate()
        await runtime.start(background=True)
        await bench_import(runtime, client, bucket)
        await bench_listing(runtime, client)
    finally:
        await client.aclose()
        await runtime.stop()
        await _delete_rabbit_objects(settings.bus_namespace, [runtime.consumer.queue])
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
