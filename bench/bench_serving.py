"""Predict throughput and latency at concurrency 1, 8, 32 of a small table model, a tiny image classifier (our
layers' cost shows most there) and a MobileNetV3 at 224 px (what an image service with pretrained weights runs).

Four ways, each measured here in the same run on the same machine and the same Triton model:
  gateway   POST /v1/infers/{id} through the gateway with an API key, as a client calls it (authentication,
            routing, the hop to the inference service as the embedded mode wires it, the inference service)
  service   POST /v1/infers/{id} of the inference service with an internal token (routing, config, Triton)
  triton    straight to the same Triton model with tritonclient (binary BYTES tensors, plain answers)
  fastapi   a plain FastAPI endpoint running the package's predictor in-process (onnxruntime / LightGBM)
The services run embedded (SQLite, local storage, in-memory bus) on uvloop, as `make run` serves them, and are
called in-process through httpx.ASGITransport, as is the FastAPI endpoint, so every HTTP way pays the same
client cost.

Prints a table, ``RATIO <name> <value>`` lines (gateway against Triton and FastAPI throughput, p50 added by our
layers over Triton), and ``PROFILE <model> <stage> <ms>`` lines: where the milliseconds of one gateway
predict go at concurrency 1 (``shared.stages`` spans; ``other`` is the framework, middleware and client).
``--seconds`` sets how long each (way, concurrency) is loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvloop
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from tritonclient.http.aio import InferenceServerClient as TritonClient
from tritonclient.http.aio import InferInput, InferRequestedOutput

from shared.messaging import InMemoryBroker
from shared.packages import PREDICTORS, load_predictor
from shared.service import build_runtime, load_definition, load_service_app
from shared.stages import recording
from shared.testing.model_packages import TABLE_ROWS, image_package, png_bytes, table_package, tar_gz

# httpx's ASGITransport asks on every request whether it runs under trio by importing sniffio; sniffio is not
# installed here, and a failed import is not remembered, so each request searched the whole sys.path for it
# (0.26 ms). A client over TCP does not pay that: make the import fail at once, for every HTTP way alike.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # Python's documented way to block an import

ADMIN_KEY = "exeml_bench-bootstrap-admin-key-0123456789abcdef"
TENANT = "bench"
WAYS = ("gateway", "service", "triton", "fastapi")
GATEWAY_STAGES = ("gateway.auth", "gateway.body", "gateway.token", "gateway.upstream")
SERVICE_STAGES = ("service.auth", "inference.config", "inference.payload", "inference.triton")
Call = Callable[[], Awaitable[Any]]


def fastapi_app(package: dict[str, bytes], task_type: str) -> FastAPI:
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
            upload = (await request.form())["images"]
            if isinstance(upload, str):  # a text field, not a file
                raise HTTPException(400, "images must be a file")
            payload = await upload.read()
        return JSONResponse(await asyncio.to_thread(predictor.predict, payload))

    return app


async def straight_to_triton(client: TritonClient, model: str, payload: bytes) -> Any:
    """One payload straight to the Triton model with tritonclient, as a user of Triton would call it (binary
    BYTES tensors, a batch of one), and its answer decoded."""
    tensor = InferInput("PAYLOAD", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[payload]], dtype=np.object_), binary_data=True)
    output = InferRequestedOutput("RESPONSE", binary_data=True)
    result = await client.infer(model, [tensor], outputs=[output], headers={"Accept-Encoding": "identity"})
    return json.loads(result.as_numpy("RESPONSE").reshape(-1)[0])


async def measure(call: Call, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []

    async def worker(deadline: float) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    for _ in range(10):  # warm up
        await call()
    started = time.perf_counter()
    await asyncio.gather(*[worker(started + seconds) for _ in range(concurrency)])
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
    }


async def profile(call: Call, requests: int) -> dict[str, float]:
    """Mean milliseconds per stage of ``requests`` sequential calls, and ``total`` and ``other``."""
    sums: dict[str, float] = {}
    for _ in range(requests):
        with recording() as stages:
            started = time.perf_counter()
            await call()
            stages["total"] = (time.perf_counter() - started) * 1000
        for name, ms in stages.items():
            sums[name] = sums.get(name, 0.0) + ms
    means = {name: ms / requests for name, ms in sums.items()}
    means["other"] = means["total"] - sum(means.get(s, 0.0) for s in GATEWAY_STAGES)
    if "gateway.upstream" in means:
        inside = sum(means.get(s, 0.0) for s in SERVICE_STAGES)
        means["gateway.upstream.other"] = means["gateway.upstream"] - inside
    return means


class Platform:
    """Registry, inference and the gateway on one in-memory bus, wired as the embedded mode wires them."""

    def __init__(self, data_dir: Path) -> None:
        from gateway.config import Settings as GatewaySettings
        from gateway.proxy import ServiceClients

        broker = InMemoryBroker()
        self.runtimes: dict[str, Any] = {}
        self.apps: dict[str, FastAPI] = {}
        apps = self.apps
        for name in ("registry", "inference"):
            definition = load_definition(name)
            # Default intervals, as `make run` has them: a faster reconciler loop would load the CPU the
            # measurement runs on (its commits wake it for deployments anyway).
            settings = definition.settings_cls(data_dir=data_dir, log_level="WARNING")
            self.runtimes[name] = build_runtime(definition, settings, broker=broker)
            apps[name] = load_service_app(name, self.runtimes[name])
        for runtime in self.runtimes.values():
            for peer, app in apps.items():
                runtime.peers.register_app(peer, app)
        gateway_settings = GatewaySettings(
            data_dir=data_dir, log_level="WARNING", bootstrap_api_key=ADMIN_KEY
        )
        self.runtimes["gateway"] = build_runtime(load_definition("gateway"), gateway_settings, broker=broker)
        from gateway.app import create_app

        self.clients = ServiceClients.in_process(apps)
        self.gateway = create_app(gateway_settings, self.runtimes["gateway"], self.clients)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.gateway), base_url="http://gateway", timeout=120
        )

    async def start(self) -> str:
        """Start everything; the API key of a developer of the bench tenant."""
        from gateway.keys import ensure_bootstrap_key

        for runtime in self.runtimes.values():
            await runtime.migrate()
            await runtime.start(background=True)
        await ensure_bootstrap_key(self.runtimes["gateway"].db, self.runtimes["gateway"].settings)
        created = await self.http.post(
            "/v1/api-keys",
            json={"name": "bench", "roles": ["developer"], "tenant_id": TENANT},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        created.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {created.json()['key']}"
        return str(created.json()["key"])

    async def stop(self) -> None:
        await self.http.aclose()
        await self.clients.aclose()
        for runtime in reversed(list(self.runtimes.values())):
            await runtime.stop()

    def service_client(self) -> httpx.AsyncClient:
        """The inference service itself, with an internal token of the bench tenant."""
        from shared.auth import INTERNAL_TOKEN_HEADER, Principal

        runtime = self.runtimes["inference"]
        token = runtime.token_codec.issue(Principal(tenant_id=TENANT, subject="user:bench", roles=("admin",)))
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps["inference"]),
            base_url="http://inference",
            headers={INTERNAL_TOKEN_HEADER: token},
            timeout=120,
        )

    async def deploy(self, name: str, package: dict[str, bytes], nodes: int = 1) -> str:
        version = (
            await self.http.post(
                "/v1/models",
                data={"model_name": name},
                files={"file": ("p.tar.gz", tar_gz(package), "application/gzip")},
            )
        ).json()
        entry = {"model_id": version["model_id"], "model_version": version["model_version"], "weight": 100}
        created = (
            await self.http.post(
                "/v1/services",
                json={"service_name": name, "schedule": [], "config": [entry | {"instance_count": nodes}]},
            )
        ).json()
        for _ in range(600):
            service = (await self.http.get(f"/v1/services/{created['service_id']}")).json()
            if service["status"] == "running":
                return str(created["service_id"])
            if service["status"] == "failed":
                raise RuntimeError(service["error_msg"])
            await asyncio.sleep(0.1)
        raise RuntimeError("deployment did not finish")

    async def triton_model(self, service_id: str) -> str:
        from inference.models import RealTimeService

        async with self.runtimes["inference"].db.session() as session:
            svc = await session.get(RealTimeService, service_id)
            assert svc is not None
            return str(svc.config[0]["triton_model"])


def ways_for(
    platform: Platform,
    service: httpx.AsyncClient,
    fastapi: httpx.AsyncClient,
    service_id: str,
    task: str,
    image: bytes = b"",
) -> tuple[dict[str, Call], bytes]:
    path = f"/v1/infers/{service_id}"
    if task == "predictive_analytics":
        body = {"data": {"req_data": TABLE_ROWS}}
        raw = json.dumps(TABLE_ROWS).encode()
        calls: dict[str, Call] = {
            "gateway": lambda: platform.http.post(path, json=body),
            "service": lambda: service.post(path, json=body),
            "fastapi": lambda: fastapi.post("/predict", json=body),
        }
    else:
        raw = image
        files = {"images": ("a.png", raw, "image/png")}
        calls = {
            "gateway": lambda: platform.http.post(path, files=files),
            "service": lambda: service.post(path, files=files),
            "fastapi": lambda: fastapi.post("/predict", files=files),
        }
    return calls, raw


async def bench_model(
    platform: Platform,
    label: str,
    task: str,
    package: dict[str, bytes],
    image: bytes,
    args: argparse.Namespace,
) -> None:
    service_id = await platform.deploy(label, package, args.nodes)
    triton = platform.runtimes["inference"].state["triton"]
    triton_model = await platform.triton_model(service_id)
    service = platform.service_client()
    fastapi = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fastapi_app(package, task)), base_url="http://fastapi", timeout=120
    )
    calls, raw = ways_for(platform, service, fastapi, service_id, task, image)
    straight = TritonClient(triton.url, conn_timeout=120)
    calls["triton"] = lambda: straight_to_triton(straight, triton_model, raw)
    for way in ("gateway", "service", "fastapi"):
        check = await calls[way]()
        assert check.status_code == 200, (way, check.text)
    for concurrency in args.concurrency:
        results = {way: await measure(calls[way], concurrency, args.seconds) for way in WAYS}
        report(label, concurrency, results)
    stages = await profile(calls["gateway"], args.profile_requests)
    for name, ms in sorted(stages.items()):
        print(f"PROFILE {label} {name} {ms:.3f}")
    await service.aclose()
    await fastapi.aclose()
    await straight.close()
    print(f"({label}: Triton model {triton_model})")


def report(label: str, concurrency: int, results: dict[str, dict[str, float]]) -> None:
    triton, fastapi, gateway = results["triton"], results["fastapi"], results["gateway"]
    for way in WAYS:
        r = results[way]
        print(
            f"{label:6} c={concurrency:<3} {way:8} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  "
            f"p99 {r['p99']:7.2f} ms  x{r['rps'] / triton['rps']:.2f} of triton  "
            f"x{r['rps'] / fastapi['rps']:.2f} of fastapi"
        )
    suffix = f"c{concurrency}_{label}"
    print(f"RATIO gateway_vs_triton_{suffix} {gateway['rps'] / triton['rps']:.2f}")
    print(f"RATIO gateway_vs_fastapi_{suffix} {gateway['rps'] / fastapi['rps']:.2f}")
    print(f"RATIO gateway_added_p50_ms_{suffix} {gateway['p50'] - triton['p50']:.2f}")
    print(f"RATIO service_vs_triton_{suffix} {results['service']['rps'] / triton['rps']:.2f}")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="load per way and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--profile-requests", type=int, default=200)
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="compute nodes (Triton instances) of each service; the FastAPI "
        "endpoint runs its predictor in as many threads as it has requests",
    )
    return parser.parse_args(argv)


def mobilenet_package() -> dict[str, bytes]:
    """The kind of image model ExeML deploys when pretrained weights are configured (a timm MobileNetV3 at
    224 px, random weights here), exported with the image engine's own ONNX export, in the tiny model's
    package format."""
    import timm
    import torch
    from trainer.engines.common.onnx_export import export_onnx

    package = image_package(0, size=224)
    manifest = json.loads(package["manifest.json"])
    network = timm.create_model(
        "mobilenetv3_small_100", pretrained=False, num_classes=len(manifest["labels"])
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(network, Path(tmp) / "model.onnx", torch.zeros(1, 3, 224, 224))
        package["model.onnx"] = path.read_bytes()
    return package


# label -> (task type, its package, the image a client sends: a small one for the tiny model, a photo-sized
# one for MobileNet). ``table``: ``TABLE_ROWS``.
MODELS: dict[str, tuple[str, Callable[[], dict[str, bytes]], Callable[[], bytes]]] = {
    "table": ("predictive_analytics", lambda: table_package(0), lambda: b""),
    "image": ("image_classification", lambda: image_package(0), png_bytes),
    "mobilenet": ("image_classification", mobilenet_package, lambda: png_bytes(320, 240)),
}


async def main(argv: list[str]) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(Path(tmp))
        await platform.start()
        try:
            for label in args.models:
                task, package, image = MODELS[label]
                if task not in PREDICTORS:
                    print(f"{label}: skipped, no {task} predictor on this branch")
                    continue
                await bench_model(platform, label, task, package(), image(), args)
        finally:
            await platform.stop()


if __name__ == "__main__":
    # The event loop `make run` serves on: uvicorn picks uvloop (installed with uvicorn[standard]).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(sys.argv[1:]))
