"""Factories of small, genuine model packages for tests of the registry and the inference service.

``table_package(seed)`` trains a tiny LightGBM classifier on generated rows (three numeric columns
``attr_1…attr_3``, labels ``no``/``yes``) and returns the package's files in the ``shared.packages`` format
(``predictive_analytics``, served by ``shared.packages.table:TablePredictor``). Different seeds give
models that answer differently, so tests can tell versions apart.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from shared.messaging import OutgoingMessage
from shared.messaging.envelope import make_envelope
from shared.packages import write_manifest
from shared.storage import ObjectStore, S3Uri

__all__ = ["table_package", "tar_gz", "put_package", "publish_event", "upload_version", "TABLE_ROWS"]

COLUMNS = ["attr_1", "attr_2", "attr_3"]
TABLE_ROWS = [{"attr_1": 1.5, "attr_2": 0.2, "attr_3": -1.0}, {"attr_1": -2.0, "attr_2": -0.5, "attr_3": 0.3}]


def table_package(seed: int = 0) -> dict[str, bytes]:
    import lightgbm

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + (0.5 + seed) * x[:, 1] > 0).astype(int)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 4, "seed": seed},
                             lightgbm.Dataset(x, y), num_boost_round=10 + seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        booster.save_model(str(folder / "model.lgb.txt"))
        write_manifest(folder, {
            "task_type": "predictive_analytics", "problem": "classification", "labels": ["no", "yes"],
            "artifacts": {"model": "model.lgb.txt"},
            "input_schema": {"label_column": "class", "problem": "classification", "labels": ["no", "yes"],
                             "columns": [{"name": c, "type": "numeric"} for c in COLUMNS]},
            "metrics": {"accuracy": 0.9}, "engine": {"name": "lightgbm"},
        })
        return {p.name: p.read_bytes() for p in folder.iterdir()}


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


async def publish_event(transport, event, *, tenant_id: str, source: str = "/exeml/test", envelope=None):
    """Put an event on the bus as another service's relay would (``envelope`` again: a redelivery);
    returns the envelope."""
    envelope = envelope or make_envelope(event, source=source, tenant_id=tenant_id)
    await transport.publish(OutgoingMessage(routing_key=envelope.type, body=envelope.to_bytes(),
                                            message_id=envelope.id, headers={"tenantid": tenant_id}))
    return envelope


async def upload_version(client, name: str, files: dict[str, bytes]) -> dict:
    """Register a package through the registry API (``POST /v1/models``); returns the new version."""
    response = await client.post("/v1/models", data={"model_name": name},
                                 files={"file": ("pkg.tar.gz", tar_gz(files), "application/gzip")})
    assert response.status_code == 201, response.text
    return response.json()
