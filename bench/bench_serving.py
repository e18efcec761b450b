"""Predict throughput and latency of a small table model and a small image classifier, at concurrency 1 and 8.

Three ways, each measured here in the same run on the same machine:
  service   POST /v1/infers/{id} of the inference service (routing, registry-resolved config, Triton)
  triton    straight to the same Triton model with tritonclient (binary BYTES tensors)
  baseline  a plain FastAPI endpoint running the package's predictor in-process (onnxruntime / LightGBM)
The services run embedded (SQLite, local storage, in-memory bus) and are called in-process through
httpx.ASGITransport, as is the baseline, so both HTTP paths pay the same client cost. Prints ratios to the
baseline. The image part needs the image predictor (shared/packages/image.py) on this branch.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.messaging import InMemoryBroker
from shared.packages import PREDICTORS, load_predictor
from shared.service import build_runtime
from shared.testing.model_packages import TABLE_ROWS, image_package, png_bytes, table_package, tar_gz

REQUESTS = {1: 300, 8: 800}
TENANT = "bench"


def baseline_app(package: dict[str, bytes], task_type: str) -> FastAPI:
    folder = Path(tempfile.mkdtemp())
    for name, data in package.items():
        (folder / name).write_bytes(data)
    predictor = load_predictor(folder)
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        if task_type == "predictive_analytics":
            payload = json.dumps((await request.json())["data"]["req_data"]).encode()
        else:
            payload = await (await request.form())["images"].read()
        return JSONResponse(await asyncio.to_thread(predictor.predict, payload))

    return app


async def measure(call, concurrency: int) -> dict[str, float]:
    total = REQUESTS[concurrency]
    latencies: list[float] = []
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    for _ in range(20):  # warm up
        await call()
    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def start_platform(data_dir: Path):
    broker = InMemoryBroker()
    runtimes, apps = {}, {}
    for name in ("registry", "inference"):
        definition = __import__(f"{name}.definition", fromlist=["SERVICE"]).SERVICE
        settings = definition.settings_cls(
            data_dir=data_dir, log_level="WARNING", reconcile_interval_seconds=0.2
        )
        runtimes[name] = build_runtime(definition, settings, broker=broker)
        apps[name] = __import__(f"{name}.app", fromlist=["create_app"]).create_app(runtime=runtimes[name])
    for runtime in runtimes.values():
        for peer, app in apps.items():
            runtime.peers.register_app(peer, app)
        await runtime.migrate()
        await runtime.start(background=True)
    clients = {}
    for name, app in apps.items():
        token = runtimes[name].token_codec.issue(
            Principal(tenant_id=TENANT, subject="user:bench", roles=("admin",))
        )
        clients[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://{name}",
            headers={INTERNAL_TOKEN_HEADER: token},
            timeout=120,
        )
    return runtimes, clients


async def deploy(clients, name: str, package: dict[str, bytes]) -> str:
    version = (
        await clients["registry"].post(
            "/v1/models",
            data={"model_name": name},
            files={"file": ("p.tar.gz", tar_gz(package), "application/gzip")},
        )
    ).json()
    created = (
        await clients["inference"].post(
            "/v1/services",
            json={
                "service_name": name,
                "schedule": [],
                "config": [
                    {
                        "model_id": version["model_id"],
                        "model_version": version["model_version"],
                        "weight": 100,
                        "instance_count": 1,
                    }
                ],
            },
        )
    ).json()
    for _ in range(600):
        service = (await clients["inference"].get(f"/v1/services/{created['service_id']}")).json()
        if service["status"] == "running":
            return created["service_id"]
        if service["status"] == "failed":
            raise RuntimeError(service["error_msg"])
        await asyncio.sleep(0.1)
    raise RuntimeError("deployment did not finish")


async def bench_model(runtimes, clients, label: str, task_type: str, package: dict[str, bytes]) -> None:
    service_id = await deploy(clients, label, package)
    triton = runtimes["inference"].state["triton"]
    service = (await clients["inference"].get(f"/v1/services/{service_id}")).json()
    async with runtimes["inference"].db.session() as session:
        from inference.models import RealTimeService

        triton_model = (await session.get(RealTimeService, service_id)).config[0]["triton_model"]
    baseline = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=baseline_app(package, task_type)),
        base_url="http://baseline",
        timeout=120,
    )
    if task_type == "predictive_analytics":
        body = {"data": {"req_data": TABLE_ROWS}}
        raw = json.dumps(TABLE_ROWS).encode()
        ways = {
            "service": lambda: clients["inference"].post(f"/v1/infers/{service_id}", json=body),
            "baseline": lambda: baseline.post("/predict", json=body),
        }
    else:
        raw = png_bytes()
        ways = {
            "service": lambda: clients["inference"].post(
                f"/v1/infers/{service_id}", files={"images": ("a.png", raw, "image/png")}
            ),
            "baseline": lambda: baseline.post("/predict", files={"images": ("a.png", raw, "image/png")}),
        }
    ways["triton"] = lambda: triton.infer(triton_model, raw)
    check = await ways["service"]()
    assert check.status_code == 200, check.text
    for concurrency in (1, 8):
        results = {way: await measure(call, concurrency) for way, call in ways.items()}
        base = results["baseline"]
        for way in ("service", "triton", "baseline"):
            r = results[way]
            print(
                f"{label:6} c={concurrency}  {way:8} {r['rps']:8.0f} req/s  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
                f"   x{r['rps'] / base['rps']:.2f} throughput, x{r['p50'] / base['p50']:.2f} p50 vs baseline"
            )
    await baseline.aclose()
    print(
        f"({service['config'][0]['model_name']} {service['config'][0]['model_version']} on Triton model {triton_model})"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runtimes, clients = await start_platform(Path(tmp))
        try:
            if "predictive_analytics" in PREDICTORS:
                await bench_model(runtimes, clients, "table", "predictive_analytics", table_package(0))
            else:
                print("table: skipped, no predictive_analytics predictor on this branch")
            if "image_classification" in PREDICTORS:
                await bench_model(runtimes, clients, "image", "image_classification", image_package(0))
            else:
                print("image: skipped, no image_classification predictor on this branch")
        finally:
            for client in clients.values():
                await client.aclose()
            for runtime in reversed(list(runtimes.values())):
                await runtime.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
