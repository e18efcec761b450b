"""Labeling next to the real dataset service: import from S3, relabel, rename, delete policies, publish."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import soundfile
from PIL import Image

from shared.testing.platform import wait_until


def png(width: int = 32, height: int = 24) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 30, 200)).save(out, format="PNG")
    return out.getvalue()


def voc(name: str, box: tuple[int, int, int, int], filename: str, width: int = 32, height: int = 24) -> bytes:
    a, b, c, d = box
    return (
        f"<annotation><folder>f</folder><filename>{filename}</filename><size><width>{width}</width>"
        f"<height>{height}</height><depth>3</depth></size><segmented>0</segmented><object><name>{name}</name>"
        f"<pose>Unspecified</pose><truncated>0</truncated><occluded>0</occluded><difficult>0</difficult>"
        f"<bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        "</annotation>"
    ).encode()


class Both:
    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.store = platform.runtimes["dataset"].store
        self.dataset = platform.client("dataset")
        self.labeling = platform.client("labeling")

    def uri(self, key: str) -> str:
        return self.platform.tenant_uri(key)

    async def import_folder(self, name: str, dataset_type: int, files: dict[str, bytes]) -> str:
        for rel, data in files.items():
            await self.store.put(self.uri(f"in/{name}/{rel}"), data)
        response = await self.dataset.post(
            "/v1/datasets",
            json={
                "dataset_name": name,
                "dataset_type": dataset_type,
                "input_path": self.uri(f"in/{name}/"),
                "work_path": self.uri(f"out/{name}/"),
            },
        )
        assert response.status_code == 201, response.text
        dataset_id, task_id = response.json()["dataset_id"], response.json()["import_task_id"]

        async def imported() -> bool:
            task = (await self.dataset.get(f"/v1/datasets/{dataset_id}/import-tasks/{task_id}")).json()
            return task["status"] == "COMPLETED"

        await wait_until(imported, timeout=60, what="import")
        return dataset_id

    async def dataset_labels(self, dataset_id: str) -> dict[str, list[str]]:
        """Sample name → labels as the dataset service shows them."""
        body = (await self.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"limit": 100})).json()
        return {s["sample_name"].rsplit("/", 1)[-1]: s["labels"] for s in body["items"]}

    async def settle(self, dataset_id: str, expected: dict[str, list[str]]) -> None:
        async def agreed() -> bool:
            return await self.dataset_labels(dataset_id) == expected

        await wait_until(agreed, what=f"dataset service showing {expected}")

    async def publish(self, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Publishes a version (it reads labeling's snapshot); the version once published or failed."""
        response = await self.dataset.post(f"/v1/datasets/{dataset_id}/versions", json=body)
        assert response.status_code == 201, response.text
        version_id = response.json()["version_id"]

        async def published() -> dict[str, Any] | None:
            v = (await self.dataset.get(f"/v1/datasets/{dataset_id}/versions/{version_id}")).json()
            return v if v["status"] in ("NORMAL", "FAILED") else None

        version: dict[str, Any] = await wait_until(published, timeout=60, what="version")
        return version


async def test_labels_travel_between_the_services(platform_factory) -> None:
    both = Both(await platform_factory(["dataset", "labeling"]))
    files = {
        "a.png": png(),
        "a.txt": b"cat\n",
        "b.png": png(),
        "b.txt": b"cat\ndog\n",
        "c.png": png(),
        "c.txt": b"dog\n",
        "d.png": png(),
    }
    dataset_id = await both.import_folder("pets", 0, files)
    await both.settle(dataset_id, {"a.png": ["cat"], "b.png": ["cat", "dog"], "c.png": ["dog"], "d.png": []})

    # The dataset service shows the imported labels at once; labeling has them once it handled samples.added.
    async def labeling_stats():
        stats = (await both.labeling.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
        return stats if stats["label_stats"] else None

    stats = await wait_until(labeling_stats, what="labeling's label statistics")
    assert {s["name"]: s["sample_count"] for s in stats["label_stats"]} == {"cat": 2, "dog": 2}
    assert stats["sample_stats"]["unlabeled"] == 1
    ids = {
        s["sample_name"].rsplit("/", 1)[-1]: s["sample_id"]
        for s in (await both.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"limit": 100})).json()[
            "items"
        ]
    }

    # Relabel in labeling → the dataset service's labeled state follows.
    response = await both.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{ids['d.png']}", json={"annotations": [{"name": "cat"}]}
    )
    assert response.status_code == 200, response.text
    await both.settle(
        dataset_id, {"a.png": ["cat"], "b.png": ["cat", "dog"], "c.png": ["dog"], "d.png": ["cat"]}
    )
    response = await both.labeling.put(f"/v1/datasets/{dataset_id}/labels/cat", json={"name": "kitty"})
    assert response.status_code == 200, response.text
    await both.settle(
        dataset_id, {"a.png": ["kitty"], "b.png": ["dog", "kitty"], "c.png": ["dog"], "d.png": ["kitty"]}
    )
    filtered = (
        await both.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"label_name": "kitty"})
    ).json()
    assert filtered["total"] == 3

    # Policy 2: the samples that only had the label go, with their source files.
    response = await both.labeling.delete(
        f"/v1/datasets/{dataset_id}/labels/kitty", params={"delete_policy": 2}
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["deleted_sample_ids"]) == sorted([ids["a.png"], ids["d.png"]])
    await both.settle(dataset_id, {"b.png": ["dog"], "c.png": ["dog"]})
    assert not await both.store.exists(both.uri("in/pets/a.png"))
    assert not await both.store.exists(both.uri("in/pets/d.png"))
    assert await both.store.exists(both.uri("in/pets/b.png"))

    # Publishing reads labeling's snapshot.
    version = await both.publish(dataset_id, {"train_evaluate_sample_ratio": "0.5"})
    assert (version["status"], version["total_sample_count"], version["labels"]) == ("NORMAL", 2, ["dog"])


async def test_policy_1_keeps_source_files_and_detection_boxes_reach_the_manifest(platform_factory) -> None:
    both = Both(await platform_factory(["dataset", "labeling"]))
    files = {
        "a.png": png(),
        "a.xml": voc("car", (1, 1, 10, 10), "a.png"),
        "b.png": png(),
        "b.xml": voc("bus", (2, 2, 20, 20), "b.png"),
        "c.png": png(),
        "c.xml": voc("car", (5, 5, 40, 20), "c.png"),
    }  # c: box outside the 32x24 image
    dataset_id = await both.import_folder("roads", 1, files)
    await both.settle(dataset_id, {"a.png": ["car"], "b.png": ["bus"], "c.png": []})
    ids = {
        s["sample_name"].rsplit("/", 1)[-1]: s["sample_id"]
        for s in (await both.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"limit": 100})).json()[
            "items"
        ]
    }

    response = await both.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{ids['c.png']}",
        json={"annotations": [{"name": "truck", "bndbox": {"xmin": 5, "ymin": 5, "xmax": 33, "ymax": 20}}]},
    )
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "bndbox_outside_image"
    response = await both.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{ids['c.png']}",
        json={"annotations": [{"name": "truck", "bndbox": {"xmin": 5, "ymin": 5, "xmax": 32, "ymax": 20}}]},
    )
    assert response.status_code == 200, response.text
    response = await both.labeling.delete(
        f"/v1/datasets/{dataset_id}/labels/bus", params={"delete_policy": 1}
    )
    assert response.json()["deleted_sample_ids"] == [ids["b.png"]]
    await both.settle(dataset_id, {"a.png": ["car"], "c.png": ["truck"]})
    assert await both.store.exists(both.uri("in/roads/b.png"))  # policy 1 keeps the source file

    version = await both.publish(dataset_id, {})
    assert version["status"] == "NORMAL", version
    lines = [json.loads(x) for x in (await both.store.get(version["manifest_path"])).decode().splitlines()]
    by_source = {line["source"].rsplit("/", 1)[-1]: line for line in lines}
    assert set(by_source) == {"a.png", "c.png"}
    voc_uri = by_source["c.png"]["annotation"][0]["annotation-loc"]
    xml = (await both.store.get(voc_uri)).decode()
    assert "<name>truck</name>" in xml and "<xmax>32</xmax>" in xml


def wav(seconds: float = 1.5, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    soundfile.write(out, 0.3 * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


async def test_sound_and_text_relabeled_with_exactly_one_label(platform_factory) -> None:
    both = Both(await platform_factory(["dataset", "labeling"]))
    sound_id = await both.import_folder(
        "calls", 200, {"bark/1.wav": wav(), "meow/2.wav": wav(), "3.wav": wav()}
    )
    text_id = await both.import_folder(
        "reviews", 100, {"r.txt": b"good\nbad\nfine\n", "r_result.txt": "正面\nneg\n\n".encode()}
    )
    await both.settle(sound_id, {"1.wav": ["bark"], "2.wav": ["meow"], "3.wav": []})
    await both.settle(text_id, {"r.txt#1": ["正面"], "r.txt#2": ["neg"], "r.txt#3": []})

    for dataset_id, name, labels in (
        (sound_id, "3.wav", ["bark", "meow"]),
        (text_id, "r.txt#3", ["neg", "正面"]),
    ):
        items = (await both.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"limit": 100})).json()[
            "items"
        ]
        sample_id = next(s["sample_id"] for s in items if s["sample_name"].endswith(name))
        url = f"/v1/datasets/{dataset_id}/annotations/{sample_id}"
        response = await both.labeling.put(url, json={"annotations": [{"name": n} for n in labels]})
        assert response.status_code == 400 and response.json()["details"][0]["rule"] == "single_label"
        response = await both.labeling.post(
            f"/v1/datasets/{dataset_id}/annotations/add", json={"sample_ids": [sample_id], "name": labels[1]}
        )
        assert response.status_code == 200, response.text
    await both.settle(sound_id, {"1.wav": ["bark"], "2.wav": ["meow"], "3.wav": ["meow"]})
    await both.settle(text_id, {"r.txt#1": ["正面"], "r.txt#2": ["neg"], "r.txt#3": ["正面"]})
    stats = (await both.labeling.get(f"/v1/datasets/{text_id}/annotations/stats")).json()
    assert {s["name"]: s["sample_count"] for s in stats["label_stats"]} == {"neg": 1, "正面": 2}
