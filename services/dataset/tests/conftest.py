"""Fixtures of the dataset tests: sample files in the seeds' layouts, a running dataset service, and a
stand-in for the labeling service's internal annotation API.

Most tests run the dataset service alone with the stand-in (fast, and independent of labeling's internals);
``test_dataset_with_labeling.py`` runs both real services together. The stand-in answers ``GET /internal/datasets/{id}/annotations`` (the contract the labeling service
implements) from what the dataset service announced in its ``dataset.samples.added`` events, and
"relabels" by publishing ``labeling.annotations.changed.v1`` on the real bus, as the labeling service does.
"""

from __future__ import annotations

import io
import math
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile
from fastapi import FastAPI
from PIL import Image

from shared.events.labeling import AnnotationChange, AnnotationsChanged
from shared.testing.bus import outbox_envelopes, publish_event
from shared.testing.platform import SMALL_DATA_CHECKS, wait_until

# ----------------------------------------------------------------------------------------------- files


def image(
    width: int = 32, height: int = 24, color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def wav(seconds: float = 1.5, subtype: str = "PCM_16", rate: int = 8000, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.3 * np.sin(2 * math.pi * freq * t), rate, subtype=subtype, format="WAV")
    return out.getvalue()


def voc(
    objects: list[tuple[str, int, int, int, int]],
    width: int = 32,
    height: int = 24,
    filename: str | None = None,
) -> bytes:
    """A VOC file; ``filename`` is its ``<filename>`` (the image it labels), left out when ``None``."""
    name = "" if filename is None else f"<filename>{filename}</filename>"
    objs = "".join(
        f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated><occluded>0</occluded>"
        f"<difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        for n, a, b, c, d in objects
    )
    return (
        f"<annotation><folder>f</folder>{name}<source><database>Unknown</database></source>"
        f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size><segmented>0</segmented>"
        f"{objs}</annotation>"
    ).encode()


def table_csv(
    rows: int = 120,
    header: bool = True,
    label_values: tuple[str, ...] = ("yes", "no"),
    timestamp: bool = False,
    columns: int | None = None,
    first: int = 0,
) -> bytes:
    """A table of ``rows`` distinct records, numbered from ``first`` (parts of one table: give each its own)."""
    rng = np.random.default_rng(0)
    if columns is not None:
        names = [f"c{i}" for i in range(columns)]
        lines = [",".join(names)] if header else []
        lines += [",".join(str(int(v)) for v in rng.integers(0, 9, columns)) for _ in range(rows)]
        return ("\n".join(lines) + "\n").encode()
    names = ["age", "income", "city"] + (["seen_at"] if timestamp else []) + ["label"]
    lines = [",".join(names)] if header else []
    for i in range(first, first + rows):
        cells = [str(20 + i % 50), f"{1000 + 17.5 * i:.1f}", ["paris", "rome", "oslo"][i % 3]]
        if timestamp:
            cells.append(f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00")
        cells.append(label_values[i % len(label_values)])
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def truncated_png() -> bytes:
    data = image(64, 64)
    return data[: len(data) // 2]


def pcm8_wav(seconds: float = 1.5) -> bytes:
    return wav(seconds, subtype="PCM_U8")


FILES = SimpleNamespace(
    image=image, wav=wav, voc=voc, table_csv=table_csv, truncated_png=truncated_png, pcm8_wav=pcm8_wav
)

# ------------------------------------------------------------------------------------- labeling stand-in


class LabelingStandIn:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.overrides: dict[str, list[str]] = {}
        self.app = FastAPI()
        self.app.add_api_route("/internal/datasets/{dataset_id}/annotations", self.snapshot, methods=["GET"])

    async def _events(self, event_type: str, dataset_id: str) -> list[dict[str, Any]]:
        envelopes = await outbox_envelopes(self.runtime, event_type)
        return [e["data"] for e in envelopes if e["data"]["dataset_id"] == dataset_id]

    async def snapshot(self, dataset_id: str) -> dict[str, Any]:
        annotations: dict[str, list[dict[str, Any]]] = {}
        for event in await self._events("dataset.samples.added.v1", dataset_id):
            for sample in event["samples"]:
                anns = [a | {"created_at": "2026-11-23T10:00:00+00:00"} for a in sample["annotations"]]
                annotations[sample["sample_id"]] = anns
        for event in await self._events("dataset.samples.deleted.v1", dataset_id):
            for sample_id in event["sample_ids"]:
                annotations.pop(sample_id, None)
        for sample_id, names in self.overrides.items():
            current = annotations.get(sample_id)
            if (
                current and current[0].get("bndbox") and len(names) == 1
            ):  # detection: the boxes get the new name
                annotations[sample_id] = [
                    a | {"name": names[0], "created_at": "2026-11-23T11:00:00+00:00"} for a in current
                ]
            elif current is not None:
                annotations[sample_id] = [
                    {
                        "name": n,
                        "bndbox": None,
                        "annotated_by": "human",
                        "created_at": "2026-11-23T11:00:00+00:00",
                    }
                    for n in names
                ]
        return {
            "dataset_id": dataset_id,
            "labels": [],
            "annotations": {k: v for k, v in annotations.items() if v},
        }

    async def relabel(self, tenant_id: str, dataset_id: str, changes: dict[str, list[str]]) -> None:
        """What the labeling service does after a user changes labels: publish annotations.changed."""
        self.overrides.update(changes)
        event = AnnotationsChanged(
            dataset_id=dataset_id,
            changes=[AnnotationChange(sample_id=k, labels=v) for k, v in changes.items()],
        )
        await publish_event(self.runtime.transport, event, tenant_id=tenant_id, source="/exeml/labeling")


# ------------------------------------------------------------------------------------------ the service


class DatasetHarness:
    def __init__(self, platform: Any, tenant_id: str = "tenant-a", *, stand_in: bool = True) -> None:
        self.platform = platform
        self.runtime = platform.runtimes["dataset"]
        self.store = self.runtime.store
        self.bucket = platform.bucket
        self.client = platform.client("dataset", tenant_id=tenant_id)
        self.tenant_id = tenant_id
        self.labeling = LabelingStandIn(self.runtime)
        if stand_in:  # else the real labeling service of the platform answers
            self.runtime.peers.register_app("labeling", self.labeling.app)

    def key(self, rel: str) -> str:
        """The key of ``rel`` in the tenant's own area of the bucket (where its files go)."""
        return self.runtime.storage_policy.home(self.tenant_id).key + rel

    def uri(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.key(rel)}"

    async def put_tree(self, prefix: str, files: dict[str, bytes]) -> str:
        for rel, data in files.items():
            await self.store.put(self.uri(f"{prefix}/{rel}"), data)
        return self.uri(prefix + "/")

    async def create(
        self, name: str, dataset_type: int, input_path: str | None, **extra: Any
    ) -> dict[str, Any]:
        body = {
            "dataset_name": name,
            "dataset_type": dataset_type,
            "work_path": self.uri(f"out/{name}/"),
        } | extra
        if input_path:
            body["input_path"] = input_path
        response = await self.client.post("/v1/datasets", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def wait_task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            task = (await self.client.get(f"/v1/datasets/{dataset_id}/import-tasks/{task_id}")).json()
            return task if task["status"] in ("COMPLETED", "FAILED") else None

        return await wait_until(done, timeout=60, what=f"import task {task_id}")

    async def import_folder(self, name: str, dataset_type: int, files: dict[str, bytes], **extra: Any):
        path = await self.put_tree(f"in/{name}", files)
        ds = await self.create(name, dataset_type, path, **extra)
        task = await self.wait_task(ds["dataset_id"], ds["import_task_id"])
        return ds, task

    async def samples(self, dataset_id: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/datasets/{dataset_id}/samples", params={"limit": 1000} | params
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def publish(self, dataset_id: str, **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/datasets/{dataset_id}/versions", json={"train_evaluate_sample_ratio": "0.8"} | body
        )
        assert response.status_code == 201, response.text
        version_id = response.json()["version_id"]

        async def done() -> dict[str, Any] | None:
            v = (await self.client.get(f"/v1/datasets/{dataset_id}/versions/{version_id}")).json()
            return v if v["status"] in ("NORMAL", "FAILED") else None

        version = await wait_until(done, timeout=60, what=f"version {version_id}")
        assert version["status"] == "NORMAL", version
        return version

    async def check(self, dataset_id: str, version_id: str) -> dict[str, Any]:
        response = await self.client.post(f"/v1/datasets/{dataset_id}/versions/{version_id}/check")
        assert response.status_code == 200, response.text
        return response.json()

    async def outbox_events(self, event_type: str) -> list[dict[str, Any]]:
        return await outbox_envelopes(self.runtime, event_type)


@pytest.fixture
async def harness(platform_factory: Callable[..., Awaitable[Any]]) -> DatasetHarness:
    """The dataset service with the guide's data-check thresholds."""
    platform = await platform_factory(["dataset"])
    return DatasetHarness(platform)


@pytest.fixture
async def small_data_harness(platform_factory: Callable[..., Awaitable[Any]]) -> DatasetHarness:
    """The dataset service with the image thresholds of the check lowered, as an operator may for a demo: for
    tests whose datasets hold a few samples a class."""
    platform = await platform_factory(["dataset"], overrides={"dataset": SMALL_DATA_CHECKS})
    return DatasetHarness(platform)


@pytest.fixture
def files() -> SimpleNamespace:
    return FILES
