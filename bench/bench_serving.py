"""Predict throughput and latency at concurrency 1, 8, 32 of a small table model, a tiny image classifier (our
layers' cost shows most there) and a MobileNetV3 at 224 px (what an image service with pretrained weights runs).

Five ways, each measured here in the same run on the same machine and the same Triton model:
  gateway   POST /v1/infers/{id} through the gateway with an API key, as a client calls it (authentication,
            routing, the hop to the inference service as the embedded mode wires it, the inference service)
  service   POST /v1/infers/{id} of the inference service with an internal token (routing, config, Triton)
  triton    straight to the same Triton model with tritonclient (binary BYTES tensors, plain answers)
  fastapi   a plain FastAPI endpoint running the package's predictor in-process (onnxruntime / LightGBM)
  bare      (tcp only) the least a Python HTTP layer in front of Triton costs here: a bare ASGI app under
            uvicorn that sends the request's body, as it is, to the same Triton model with the inference
            service's own client (coalescing included) and returns the answer; no framework, authentication,
            routing or parsing. Our layers can come no closer to Triton than this on this machine.
The services run embedded (SQLite, local storage, in-memory bus) on uvloop, as `make run` serves them, and are
called two ways (``--over``, both by default, one after the other):
  asgi      in this process through httpx.ASGITransport, as is the FastAPI endpoint, so every HTTP way pays the
            same client cost; the client's CPU is then the servers' too (Triton alone has a process of its own)
  tcp       `make run`'s server (``python -m gateway.embedded``) and the FastAPI endpoint under uvicorn each in a
            process of their own, called over TCP with aiohttp, the HTTP client tritonclient uses (no ``service``
            way: the embedded mode does not serve the inference service on a port); rows and RATIO names end
            in ``_tcp``
On a machine with few cores the client, the servers and Triton share them either way.

Prints a table, ``RATIO <name> <value>`` lines (gateway against Triton and FastAPI throughput, p50 added by our
layers over Triton), and ``PROFILE <model> <stage> <ms>`` lines: where the milliseconds of one gateway
predict go at concurrency 1 over asgi (``shared.stages`` spans; ``other`` is the framework, middleware and
client), and ``LAYERS <model> <layer> <us>`` lines: the CPU of one gateway predict (Triton's answer stubbed)
entered at each layer of the gateway app, outermost first (a layer's own cost is its row less the next).
``--seconds`` sets how long each (way, concurrency) is loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import uvloop
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from inference.triton.client import TritonModels
from inference.triton.server import TritonProcess
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tritonclient.http.aio import InferenceServerClient as TritonClient
from tritonclient.http.aio import InferInput, InferRequestedOutput

from shared.messaging import InMemoryBroker
from shared.packages import PREDICTORS, load_predictor
from shared.service import build_runtime, load_definition, load_service_app
from shared.stages import recording
from shared.testing.live import embedded_process, free_port, stop_process, wait_ready
from shared.testing.model_packages import TABLE_ROWS, image_package, png_bytes, table_package, tar_gz

# httpx's ASGITransport asks on every request whether it runs under trio by importing sniffio; sniffio is not
# installed here, and a failed import is not remembered, so each request searched the whole sys.path for it
# (0.26 ms). A client over TCP does not pay that: make the import fail at once, for every HTTP way alike.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # Python's documented way to block an import

ADMIN_KEY = "exeml_bench-bootstrap-admin-key-0123456789abcdef"
TENANT = "bench"
WAYS = ("gateway", "service", "triton", "fastapi", "bare")
GATEWAY_STAGES = ("gateway.auth", "gateway.body", "gateway.token", "gateway.upstream")
SERVICE_STAGES = ("service.auth", "inference.config", "inference.payload", "inference.triton")
Call = Callable[[], Awaitable[Any]]


def package_folder(package: dict[str, bytes]) -> Path:
    folder = Path(tempfile.mkdtemp())
    for name, data in package.items():
        (folder / name).write_bytes(data)
    return folder


def fastapi_app(folder: Path, task_type: str) -> FastAPI:
    """What a user could write in ten lines: the package's predictor behind one FastAPI endpoint."""
    predictor = load_predictor(folder)
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

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


def bare_app(triton_url: str, model: str) -> ASGIApp:
    """The ``bare`` way: a request's body is the payload, sent to ``model`` with the inference service's
    Triton client (made in the server's loop, on the first request); the answer as JSON. ``GET`` answers 200
    (readiness)."""
    models: list[TritonModels] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        answer = b"{}"
        if scope["method"] == "POST":
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            if not models:
                models.append(TritonModels(triton_url))
            answer = json.dumps(await models[0].infer(model, b"".join(chunks))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

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


async def layer_costs(
    platform: Platform, service_id: str, task: str, image: bytes, requests: int
) -> dict[str, float]:
    """CPU microseconds of one gateway predict, Triton's answer stubbed, entered at each layer of the gateway
    app, outermost first: FastAPI, each middleware down to the hot path, then the hot path alone (``hot``,
    what the embedded gateway runs per predict without its middleware). A layer's own cost is its row less the
    next. Raw ASGI calls, no HTTP client: only our layers' CPU (best of 5 rounds of ``requests`` x 5)."""
    from shared.service.hot_path import answer_in_process

    gateway = platform.gateway
    triton: TritonModels = platform.runtimes["inference"].state["triton"]
    if task == "predictive_analytics":
        built = httpx.Request("POST", "http://g/", json={"data": {"req_data": TABLE_ROWS}})
    else:
        built = httpx.Request("POST", "http://g/", files={"images": ("a.png", image, "image/png")})
    body = built.read()
    path = f"/v1/infers/{service_id}"
    headers = [(k.lower(), v) for k, v in built.headers.raw if k.lower() != b"host"]
    headers += [(b"host", b"gateway"), (b"authorization", f"Bearer {platform.key}".encode())]
    answers: dict[str, dict[str, Any]] = {}
    real = triton._infer_rows

    async def stub(name: str, payloads: list[bytes]) -> list[dict[str, Any]]:
        if name not in answers:
            answers[name] = (await real(name, payloads[:1]))[0]
        return [answers[name]] * len(payloads)

    async def call(app: ASGIApp) -> None:
        scope: Scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": list(headers), "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            "state": {}, "app": gateway,
        }  # fmt: skip
        status: list[int] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        assert status == [200], status

    async def hot(scope: Scope, receive: Receive, send: Send) -> None:
        await answer_in_process(gateway, scope, receive, send)

    layers: dict[str, ASGIApp] = {"FastAPI": gateway}
    layer = gateway.middleware_stack
    while layer is not None:
        layers[type(layer).__name__] = layer
        layer = None if type(layer).__name__ == "_HotPath" else getattr(layer, "app", None)
    layers["hot"] = hot
    saved = triton._coalescers
    triton._coalescers = {}  # new coalescers, which send through the stub
    triton._infer_rows = stub  # type: ignore[method-assign]
    try:
        costs: dict[str, float] = {}
        for _ in range(5):
            for name, app in layers.items():
                started = time.process_time()
                for _ in range(requests * 5):
                    await call(app)
                us = (time.process_time() - started) / (requests * 5) * 1e6
                costs[name] = min(costs.get(name, us), us)
        return costs
    finally:
        del triton._infer_rows
        triton._coalescers = saved


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

    @property
    def triton_url(self) -> str:
        return str(self.runtimes["inference"].state["triton"].url)

    async def start(self) -> None:
        """Start everything; the client then calls as a developer of the bench tenant."""
        from gateway.keys import ensure_bootstrap_key

        for runtime in self.runtimes.values():
            await runtime.migrate()
            await runtime.start(background=True)
        await ensure_bootstrap_key(self.runtimes["gateway"].db, self.runtimes["gateway"].settings)
        self.key = await developer_key(self.http)

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

    @asynccontextmanager
    async def ways(
        self, service_id: str, task: str, folder: Path, image: bytes, model: str, raw: bytes
    ) -> AsyncIterator[dict[str, Call]]:
        """gateway, service and fastapi, called in-process through httpx.ASGITransport."""
        service = self.service_client()
        fastapi = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fastapi_app(folder, task)),
            base_url="http://fastapi",
            timeout=120,
        )
        try:
            yield asgi_ways(self, service, fastapi, service_id, task, image)
        finally:
            await service.aclose()
            await fastapi.aclose()


class ServedPlatform:
    """``make run``'s server (``python -m gateway.embedded``, :func:`shared.testing.live.embedded_process`) in a
    process of its own, on a Triton started here, called over TCP with aiohttp (the HTTP client tritonclient
    itself uses); the FastAPI endpoint served by uvicorn in a process of its own too. The client's CPU is then
    no longer the servers' (it still shares the machine's cores with them, as it does with Triton)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        (data_dir / "platform").mkdir(parents=True)
        self.triton = TritonProcess(data_dir / "triton-models")
        self.processes = contextlib.ExitStack()

    async def start(self) -> None:
        self.triton_url = await self.triton.start()
        environment = {
            "EXEML_TRITON_URL": self.triton_url,
            "EXEML_TRITON_MODEL_REPOSITORY": str(self.triton.repository),
            "EXEML_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "EXEML_LOG_LEVEL": "WARNING",
        }
        self.base = self.processes.enter_context(embedded_process(self.data_dir / "platform", environment))
        self.http = httpx.AsyncClient(base_url=self.base, timeout=120)
        self.key = await developer_key(self.http)

    async def stop(self) -> None:
        await self.http.aclose()
        self.processes.close()
        await self.triton.stop()

    @asynccontextmanager
    async def ways(
        self, service_id: str, task: str, folder: Path, image: bytes, model: str, raw: bytes
    ) -> AsyncIterator[dict[str, Call]]:
        """gateway, fastapi and bare (``raw``, the payload straight to Triton, to ``model``) over TCP."""
        session = aiohttp.ClientSession(headers={"Accept-Encoding": "identity"})  # as straight_to_triton
        table = task == "predictive_analytics"
        body = json.dumps({"data": {"req_data": TABLE_ROWS}}).encode()

        def post(url: str, headers: dict[str, str], payload: bytes | None = None) -> Call:
            """A predict as the platform and FastAPI take it, or ``payload`` as the body (the bare way)."""
            if table and payload is None:
                headers = {**headers, "Content-Type": "application/json"}

            async def call() -> tuple[int, str]:
                data: Any = body if payload is None else payload
                if not table and payload is None:
                    data = aiohttp.FormData()
                    data.add_field("images", image, filename="a.png", content_type="image/png")
                async with session.post(url, data=data, headers=headers) as response:
                    return response.status, (await response.read()).decode()

            return call

        try:
            with (
                child_server(["--serve-fastapi", str(folder), task], self.data_dir) as fastapi,
                child_server(["--serve-bare", self.triton_url, model], self.data_dir) as bare,
            ):
                yield {
                    "gateway": post(
                        f"{self.base}/v1/infers/{service_id}", {"Authorization": f"Bearer {self.key}"}
                    ),
                    "fastapi": post(f"{fastapi}/predict", {}),
                    "bare": post(f"{bare}/", {"Content-Type": "application/octet-stream"}, raw),
                }
        finally:
            await session.close()


@contextlib.contextmanager
def child_server(mode: list[str], log_dir: Path) -> Iterator[str]:
    """This script in a child process serving ``mode`` (``--serve-fastapi FOLDER TASK`` or ``--serve-bare
    TRITON_URL MODEL``) under uvicorn on a free port; its base URL."""
    port = free_port()
    log_path = log_dir / f"{mode[0].removeprefix('--serve-')}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, __file__, *mode, str(port)], stdout=log, stderr=log)
        try:
            wait_ready(f"http://127.0.0.1:{port}", process, log_path, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(process)


async def developer_key(http: httpx.AsyncClient) -> str:
    """A new API key of a developer of the bench tenant, which ``http`` then sends."""
    created = await http.post(
        "/v1/api-keys",
        json={"name": "bench", "roles": ["developer"], "tenant_id": TENANT},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    created.raise_for_status()
    http.headers["Authorization"] = f"Bearer {created.json()['key']}"
    return str(created.json()["key"])


async def deploy(http: httpx.AsyncClient, name: str, package: dict[str, bytes], nodes: int = 1) -> str:
    """Register the package and deploy it as a real-time service; its id once it is running."""
    version = (
        await http.post(
            "/v1/models",
            data={"model_name": name},
            files={"file": ("p.tar.gz", tar_gz(package), "application/gzip")},
        )
    ).json()
    entry = {"model_id": version["model_id"], "model_version": version["model_version"], "weight": 100}
    created = (
        await http.post(
            "/v1/services",
            json={"service_name": name, "schedule": [], "config": [entry | {"instance_count": nodes}]},
        )
    ).json()
    for _ in range(600):
        service = (await http.get(f"/v1/services/{created['service_id']}")).json()
        if service["status"] == "running":
            return str(created["service_id"])
        if service["status"] == "failed":
            raise RuntimeError(service["error_msg"])
        await asyncio.sleep(0.1)
    raise RuntimeError("deployment did not finish")


async def triton_model(client: TritonClient, service_id: str) -> str:
    """The Triton model that serves the service (its name holds the service id)."""
    index = await client.get_model_repository_index()
    names = [
        m["name"] for m in index if m.get("state") == "READY" and service_id.replace("-", "") in m["name"]
    ]
    if len(names) != 1:
        raise RuntimeError(f"service {service_id}: Triton models {names}")
    return str(names[0])


def asgi_ways(
    platform: Platform,
    service: httpx.AsyncClient,
    fastapi: httpx.AsyncClient,
    service_id: str,
    task: str,
    image: bytes = b"",
) -> dict[str, Call]:
    path = f"/v1/infers/{service_id}"
    if task == "predictive_analytics":
        body = {"data": {"req_data": TABLE_ROWS}}
        calls: dict[str, Call] = {
            "gateway": lambda: platform.http.post(path, json=body),
            "service": lambda: service.post(path, json=body),
            "fastapi": lambda: fastapi.post("/predict", json=body),
        }
    else:
        files = {"images": ("a.png", image, "image/png")}
        calls = {
            "gateway": lambda: platform.http.post(path, files=files),
            "service": lambda: service.post(path, files=files),
            "fastapi": lambda: fastapi.post("/predict", files=files),
        }
    return calls


async def bench_model(
    platform: Platform | ServedPlatform,
    label: str,
    task: str,
    package: dict[str, bytes],
    image: bytes,
    args: argparse.Namespace,
) -> None:
    service_id = await deploy(platform.http, label, package, args.nodes)
    straight = TritonClient(platform.triton_url, conn_timeout=120)
    model = await triton_model(straight, service_id)
    raw = json.dumps(TABLE_ROWS).encode() if task == "predictive_analytics" else image
    over = "tcp" if isinstance(platform, ServedPlatform) else "asgi"
    async with platform.ways(service_id, task, package_folder(package), image, model, raw) as calls:
        for way, call in calls.items():
            result = await call()
            status, text = (result.status_code, result.text) if isinstance(result, httpx.Response) else result
            assert status == 200, (way, text)
        calls["triton"] = lambda: straight_to_triton(straight, model, raw)
        for concurrency in args.concurrency:
            results = {
                way: await measure(calls[way], concurrency, args.seconds) for way in WAYS if way in calls
            }
            report(label if over == "asgi" else f"{label}_tcp", concurrency, results)
        if over == "asgi":
            stages = await profile(calls["gateway"], args.profile_requests)
            for name, ms in sorted(stages.items()):
                print(f"PROFILE {label} {name} {ms:.3f}")
            assert isinstance(platform, Platform)
            for layer, us in (
                await layer_costs(platform, service_id, task, image, args.profile_requests)
            ).items():
                print(f"LAYERS {label} {layer} {us:.1f}")
    await straight.close()
    print(f"({label} over {over}: Triton model {model})")


def report(label: str, concurrency: int, results: dict[str, dict[str, float]]) -> None:
    triton, fastapi, gateway = results["triton"], results["fastapi"], results["gateway"]
    for way, r in results.items():
        print(
            f"{label:13} c={concurrency:<3} {way:8} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  "
            f"p99 {r['p99']:7.2f} ms  x{r['rps'] / triton['rps']:.2f} of triton  "
            f"x{r['rps'] / fastapi['rps']:.2f} of fastapi"
        )
    suffix = f"c{concurrency}_{label}"
    print(f"RATIO gateway_vs_triton_{suffix} {gateway['rps'] / triton['rps']:.2f}")
    print(f"RATIO gateway_vs_fastapi_{suffix} {gateway['rps'] / fastapi['rps']:.2f}")
    print(f"RATIO gateway_added_p50_ms_{suffix} {gateway['p50'] - triton['p50']:.2f}")
    if "service" in results:
        print(f"RATIO service_vs_triton_{suffix} {results['service']['rps'] / triton['rps']:.2f}")
    if "bare" in results:  # the ceiling of any Python layer in front of Triton here, and ours against it
        bare = results["bare"]
        print(f"RATIO bare_vs_triton_{suffix} {bare['rps'] / triton['rps']:.2f}")
        print(f"RATIO bare_vs_fastapi_{suffix} {bare['rps'] / fastapi['rps']:.2f}")
        print(f"RATIO bare_added_p50_ms_{suffix} {bare['p50'] - triton['p50']:.2f}")
        print(f"RATIO gateway_vs_bare_{suffix} {gateway['rps'] / bare['rps']:.2f}")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="load per way and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--profile-requests", type=int, default=200)
    parser.add_argument(
        "--over",
        nargs="+",
        default=["asgi", "tcp"],
        choices=["asgi", "tcp"],
        help="asgi: the embedded platform in this process, called through httpx.ASGITransport (with the stage "
        "profile); tcp: `make run`'s server and the FastAPI endpoint in processes of their own, over TCP "
        "(RATIO names end in _tcp)",
    )
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
    models = {}
    for label in args.models:
        task, make_package, make_image = MODELS[label]
        if task not in PREDICTORS:
            print(f"{label}: skipped, no {task} predictor on this branch")
            continue
        models[label] = task, make_package(), make_image()
    for over in args.over:
        with tempfile.TemporaryDirectory() as tmp:
            platform = Platform(Path(tmp)) if over == "asgi" else ServedPlatform(Path(tmp))
            await platform.start()
            try:
                for label, (task, package, image) in models.items():
                    await bench_model(platform, label, task, package, image, args)
            finally:
                await platform.stop()


def serve(app: ASGIApp, port: str) -> None:
    """A child server of the ``tcp`` way, as its user would serve it: uvicorn, uvloop and httptools."""
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-fastapi"]:
        serve(fastapi_app(Path(sys.argv[2]), sys.argv[3]), sys.argv[4])
        sys.exit()
    if sys.argv[1:2] == ["--serve-bare"]:
        serve(bare_app(sys.argv[2], sys.argv[3]), sys.argv[4])
        sys.exit()
    # The event loop `make run` serves on: uvicorn picks uvloop (installed with uvicorn[standard]).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(sys.argv[1:]))
