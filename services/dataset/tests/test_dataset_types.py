"""Each of the five types: a dataset in the seed's layout imported from S3, relabeled, published 0.8, checked."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from shared.manifest import parse_lines
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra


def image_cls_files(f, per_class: dict[str, int]) -> dict[str, bytes]:
    out = {}
    for label, count in per_class.items():
        for i in range(count):
            out[f"{label}_{i}.jpg"] = f.image(fmt="JPEG", color=(10 * i, 100, 50))
            out[f"{label}_{i}.txt"] = f"{label}\n".encode()
    return out


def detection_files(f, per_class: dict[str, int]) -> dict[str, bytes]:
    out = {}
    for label, count in per_class.items():
        for i in range(count):
            out[f"{label}{i}.png"] = f.image()
            out[f"{label}{i}.xml"] = f.voc(
                [(label, 2, 3, 20, 18), (label, 1, 1, 5, 5)], filename=f"{label}{i}.png"
            )
    return out


def text_files(per_class: dict[str, int]) -> dict[str, bytes]:
    texts, labels = [], []
    for label, count in per_class.items():
        for i in range(count):
            texts.append(f"{label} sentence number {i}")
            labels.append(label)
    return {"reviews.txt": "\n".join(texts).encode(), "reviews_result.txt": "\n".join(labels).encode()}


def sound_files(f, per_class: dict[str, int]) -> dict[str, bytes]:
    return {
        f"{label}/{label}_{i}.wav": f.wav(1.2, freq=200 + 50 * i)
        for label, count in per_class.items()
        for i in range(count)
    }


async def _relabel_one(h, ds_id: str, new_label: str) -> str:
    """Relabel one sample as the labeling service would (event on the real bus) and see the read model follow."""
    sample = (await h.samples(ds_id, labeled="true", limit=1, sort_by="sample_name", order="asc"))["items"][0]
    await h.labeling.relabel(h.tenant_id, ds_id, {sample["sample_id"]: [new_label]})

    async def followed() -> bool:
        detail = (await h.client.get(f"/v1/datasets/{ds_id}/samples/{sample['sample_id']}")).json()
        return detail["labels"] == [new_label]

    await wait_until(followed, what="annotations.changed applied")
    return sample["sample_id"]


def _assert_manifest_lines(text: str, dataset_type: int, version: dict[str, Any]) -> list:
    lines = list(parse_lines(text))
    assert len(lines) == version["total_sample_count"]
    usages = Counter(line.usage for line in lines)
    assert usages == {"TRAIN": version["train_sample_count"], "EVAL": version["eval_sample_count"]}
    types = {
        0: "modelarts/image_classification",
        1: "modelarts/object_detection",
        100: "modelarts/text_classification",
        200: "modelarts/audio_classification",
    }
    for line in lines:
        assert line.id and line.sample_type is not None and line.annotations
        for ann in line.annotations:
            assert ann.type == types[dataset_type] and ann.annotated_by == "human" and ann.creation_time
            if dataset_type == 1:
                assert ann.annotation_loc and ann.annotation_loc.endswith(".xml") and ann.objects and ann.size
            else:
                assert ann.name
        if dataset_type == 100:
            assert line.is_inline_text
        else:
            assert line.source.startswith("s3://")
    return lines


CASES = {
    0: ("imgcls", lambda f: image_cls_files(f, {"cat": 6, "dog": 6, "fox": 6})),
    1: ("detect", lambda f: detection_files(f, {"car": 6, "bus": 6})),
    100: ("textcls", lambda f: text_files({"good": 25, "bad": 25})),
    200: ("sound", lambda f: sound_files(f, {"bark": 6, "meow": 6})),
}


@pytest.mark.parametrize("dataset_type", list(CASES))
async def test_import_relabel_publish_check(small_data_harness, files, dataset_type: int) -> None:
    h = small_data_harness
    name, make = CASES[dataset_type]
    ds, task = await h.import_folder(name, dataset_type, make(files))
    assert task["status"] == "COMPLETED" and task["errors"] == [], task
    ds_id = ds["dataset_id"]
    expected = {0: 18, 1: 12, 100: 50, 200: 12}[dataset_type]
    assert task["imported_sample_count"] == task["annotated_sample_count"] == expected
    listing = await h.samples(ds_id)
    assert listing["total"] == expected and all(s["labeled"] for s in listing["items"])

    # Relabel one sample through the labeling path; the version must carry the new label.
    relabeled = await _relabel_one(h, ds_id, {0: "cat", 1: "car", 100: "good", 200: "bark"}[dataset_type])

    version = await h.publish(ds_id)
    assert version["version_name"] == "V001" and version["train_evaluate_sample_ratio"] == "0.8"
    manifest = (await h.store.get(version["manifest_path"])).decode()
    lines = _assert_manifest_lines(manifest, dataset_type, version)
    # Stratified: every label has 80 % (rounded) of its samples in TRAIN and at least one in EVAL.
    for label, stats in version["statistics"]["labels"].items():
        assert stats["eval"] >= 1 and stats["train"] == round(stats["sample_count"] * 0.8), (label, stats)
    assert version["train_sample_count"] + version["eval_sample_count"] == expected
    line_of = {line.id: line for line in lines}
    assert line_of[relabeled].labels == [{0: "cat", 1: "car", 100: "good", 200: "bark"}[dataset_type]]
    if dataset_type == 1:
        xml = (await h.store.get(line_of[relabeled].annotations[0].annotation_loc)).decode()
        assert "<name>car</name>" in xml and "<xmax>20</xmax>" in xml and "<difficult>0</difficult>" in xml
    event = (await h.outbox_events("dataset.version.published.v1"))[-1]["data"]
    assert event["manifest_uri"] == version["manifest_path"] and event["labels"] == version["labels"]
    assert event["train_count"] == version["train_sample_count"] and event["statistics"]["labels"]

    # Samples carry their usage now (filter by usage).
    train = await h.samples(ds_id, usage="TRAIN")
    assert train["total"] == version["train_sample_count"]

    report = await h.check(ds_id, version["version_id"])
    assert report["passed"], report

    # Failing case: keep a single class (detection: 3 images of it), publish V002, check fails.
    first = min(version["labels"])
    items = (await h.samples(ds_id, sort_by="sample_name", order="asc"))["items"]
    others = [s["sample_id"] for s in items if first not in s["labels"]]
    if dataset_type == 1:
        others += [s["sample_id"] for s in items if first in s["labels"]][3:]
    deleted = await h.client.post(
        f"/v1/datasets/{ds_id}/samples/delete", json={"samples": others, "delete_source": False}
    )
    assert deleted.status_code == 200 and deleted.json()["success"], deleted.text
    v2 = await h.publish(ds_id)
    assert v2["version_name"] == "V002" and v2["labels"] == [first]
    report = await h.check(ds_id, v2["version_id"])
    assert not report["passed"]
    rules = {v["rule"] for v in report["violations"] if v["level"] == "error"}
    assert rules & {"min_classes", "min_samples_per_class"}, report
    checked = await h.outbox_events("dataset.version.checked.v1")
    assert [e["data"]["passed"] for e in checked] == [True, False]
