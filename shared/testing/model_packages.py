"""Factories of small, genuine model packages for tests of the registry and the inference service.

``table_package(seed)`` trains a tiny LightGBM classifier on generated rows (three numeric columns
``attr_1…attr_3``, labels ``no``/``yes``) and returns the package's files in the ``shared.packages`` format
(``predictive_analytics``, served by ``shared.packages.table:TablePredictor``). Different seeds give
models that answer differently, so tests can tell versions apart.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

from shared.packages import write_manifest
from shared.service import ServiceRuntime
from shared.storage import ObjectStore, S3Uri
from shared.testing.platform import wait_until

__all__ = [
    "TABLE_ROWS",
    "deploy_version",
    "download_package",
    "image_package",
    "onnx_bytes",
    "png_bytes",
    "put_package",
    "service_uses",
    "table_package",
    "tar_gz",
    "upload_version",
    "watch_job",
]

COLUMNS = ["attr_1", "attr_2", "attr_3"]
TABLE_ROWS = [{"attr_1": 1.5, "attr_2": 0.2, "attr_3": -1.0}, {"attr_1": -2.0, "attr_2": -0.5, "attr_3": 0.3}]


def table_package(seed: int = 0) -> dict[str, bytes]:
    import lightgbm

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + (0.5 + seed) * x[:, 1] > 0).astype(int)
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "seed": seed},
        lightgbm.Dataset(x, y),
        num_boost_round=10 + seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        booster.save_model(str(folder / "model.lgb.txt"))
        write_manifest(
            folder,
            {
                "task_type": "predictive_analytics",
                "problem": "classification",
                "labels": ["no", "yes"],
                "artifacts": {"model": "model.lgb.txt"},
                "input_schema": {
                    "label_column": "class",
                    "problem": "classification",
                    "labels": ["no", "yes"],
                    "columns": [{"name": c, "type": "numeric"} for c in COLUMNS],
                },
                "metrics": {"accuracy": 0.9},
                "engine": {"name": "lightgbm"},
            },
        )
        return {p.name: p.read_bytes() for p in folder.iterdir()}


IMAGE_LABELS = ["bird", "cat", "dog"]


def onnx_bytes(graph: Any, opset: int) -> bytes:
    """The model file of an ONNX ``graph`` at ``opset``, IR version 8 (what the serving onnxruntime reads),
    checked."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def image_package(seed: int = 0, size: int = 32) -> dict[str, bytes]:
    """A tiny image classifier (conv → relu → global pool → dense) as ONNX with random weights, in the
    format of ``shared.packages.image`` (``image_classification``)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {
        "conv_w": rng.normal(size=(8, 3, 3, 3)).astype(np.float32),
        "conv_b": np.zeros(8, np.float32),
        "fc_w": rng.normal(size=(8, len(IMAGE_LABELS))).astype(np.float32),
        "fc_b": rng.normal(size=len(IMAGE_LABELS)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["images", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(IMAGE_LABELS)])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "model.onnx").write_bytes(onnx_bytes(graph, 17))
        write_manifest(
            folder,
            {
                "task_type": "image_classification",
                "labels": IMAGE_LABELS,
                "artifacts": {"model": "model.onnx"},
                "preprocessing": {
                    "image_size": [size, size],
                    "resize_shorter": size,
                    "crop": "center",
                    "interpolation": "bilinear",
                    "channel_order": "RGB",
                    "layout": "NCHW",
                    "scale": 1 / 255,
                    "mean": [0.5, 0.5, 0.5],
                    "std": [0.5, 0.5, 0.5],
                    "input_name": "images",
                    "output": "logits",
                },
                "metrics": {"accuracy": 0.5},
                "engine": {"name": "onnx"},
            },
        )
        return {p.name: p.read_bytes() for p in folder.iterdir()}


def png_bytes(width: int = 48, height: int = 40, seed: int = 0) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def tar_gz(files: dict[str, bytes], top: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def put_package(store: ObjectStore, prefix: S3Uri, files: dict[str, bytes]) -> str:
    """Write a package as the trainer does; returns its ``s3://`` prefix."""
    for name, data in files.items():
        await store.put(prefix.join(name), data)
    return str(prefix)


async def upload_version(client: httpx.AsyncClient, name: str, files: dict[str, bytes]) -> dict[str, Any]:
    """Register a package through the registry API (``POST /v1/models``); returns the new version."""
    response = await client.post(
        "/v1/models",
        data={"model_name": name},
        files={"file": ("pkg.tar.gz", tar_gz(files), "application/gzip")},
    )
    assert response.status_code == 201, response.text
    version: dict[str, Any] = response.json()
    return version


async def deploy_version(
    inference: httpx.AsyncClient, version: dict[str, Any], name: str, timeout: float = 90.0, **entry: Any
) -> str:
    """Deploy a registered version (what :func:`upload_version` returns) as a one-node service (``entry``:
    more fields of its config entry) and wait until it runs; returns the service id."""
    config = {"model_id": version["model_id"], "model_version": version["model_version"], "weight": 100}
    created = await inference.post(
        "/v1/services", json={"service_name": name, "config": [{**config, "instance_count": 1, **entry}]}
    )
    assert created.status_code == 201, created.text
    service_id: str = created.json()["service_id"]

    async def running() -> bool:
        body = (await inference.get(f"/v1/services/{service_id}")).json()
        assert body["status"] != "failed", body
        return bool(body["status"] == "running")

    await wait_until(running, timeout=timeout, what=f"service {name} running")
    return service_id


async def service_uses(registry_runtime: ServiceRuntime[Any], service_id: str) -> bool | None:
    """The registry's read model of a service (from inference events): True while it holds its versions,
    False once stopped, None before any event. Tests wait on it instead of probing with a DELETE, which
    would delete the version when the event has not arrived yet. Read through the runtime's own metadata, so
    this library does not import a service."""
    usages = registry_runtime.definition.metadata.tables["service_usages"]
    async with registry_runtime.db.session() as session:
        active = (
            await session.execute(sa.select(usages.c.active).where(usages.c.service_id == service_id))
        ).first()
        return None if active is None else bool(active[0])


async def watch_job(
    client: httpx.AsyncClient, job_id: str, until: set[str], timeout: float, seen: list[str] | None = None
) -> dict[str, Any]:
    """Poll a training job (``GET /v1/training-jobs/{id}``) until its status is in ``until``; ``seen``
    collects every status observed."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = (await client.get(f"/v1/training-jobs/{job_id}")).json()
        if seen is not None and (not seen or seen[-1] != job["status"]):
            seen.append(job["status"])
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout}s: {job['logs'][-10:]}"
        await asyncio.sleep(0.2)


async def download_package(store: ObjectStore, package_uri: str, folder: Path) -> Path:
    """A trained package from the object store into ``folder`` (for ``load_predictor``)."""
    prefix = S3Uri.parse(package_uri)
    for info in await store.list(prefix.bucket, prefix.key + "/"):
        target = folder / info.key[len(prefix.key) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(await store.get(info.uri))
    return folder
