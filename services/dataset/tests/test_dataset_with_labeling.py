"""The dataset and labeling services together (PostgreSQL, RabbitMQ, S3): labels found at import reach labeling,
relabeling through labeling's API reaches the dataset's read model and the published version, label deletion
with policy 2 deletes the samples and their files through the dataset's batch delete."""

from __future__ import annotations

import pytest

from shared.manifest import parse_lines
from shared.testing.platform import SMALL_DATA_CHECKS, wait_until

pytestmark = pytest.mark.infra

RELABEL = {
    0: ({"cat": 5, "dog": 5}, "dog", [{"name": "dog"}]),
    1: ({"car": 5}, "bus", [{"name": "bus", "bndbox": {"xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9}}]),
    100: ({"pos": 20, "neg": 20}, "neg", [{"name": "neg"}]),
    200: ({"bark": 5, "meow": 5}, "meow", [{"name": "meow"}]),
}


def _files(files, dataset_type: int, per_class: dict[str, int]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if dataset_type == 100:
        texts = [f"{label} text {i}" for label, n in per_class.items() for i in range(n)]
        labels = [label for label, n in per_class.items() for _ in range(n)]
        return {"t.txt": "\n".join(texts).encode(), "t_result.txt": "\n".join(labels).encode()}
    for label, n in per_class.items():
        for i in range(n):
            if dataset_type == 0:
                out[f"{label}{i}.jpg"], out[f"{label}{i}.txt"] = (
                    files.image(fmt="JPEG"),
                    f"{label}\n".encode(),
                )
            elif dataset_type == 1:
                out[f"{label}{i}.png"], out[f"{label}{i}.xml"] = (
                    files.image(),
                    files.voc([(label, 2, 2, 20, 20)], filename=f"{label}{i}.png"),
                )
            else:
                out[f"{label}/{label}{i}.wav"] = files.wav(1.2)
    return out


@pytest.fixture
async def both(platform_factory):
    from services.dataset.tests.conftest import DatasetHarness

    # A few samples a class: the check's image thresholds lowered (the guide's are tested at their defaults).
    platform = await platform_factory(["dataset", "labeling"], overrides={"dataset": SMALL_DATA_CHECKS})
    harness = DatasetHarness(platform, stand_in=False)
    harness.lab = platform.client("labeling", tenant_id=harness.tenant_id)
    return harness


@pytest.mark.parametrize("dataset_type", list(RELABEL))
async def test_relabel_through_labeling_then_publish(both, files, dataset_type: int) -> None:
    h = both
    per_class, new_label, body = RELABEL[dataset_type]
    ds, task = await h.import_folder(
        f"e2e{dataset_type}", dataset_type, _files(files, dataset_type, per_class)
    )
    ds_id, total = ds["dataset_id"], sum(per_class.values())
    assert task["status"] == "COMPLETED" and task["annotated_sample_count"] == total, task

    async def labeling_has_all() -> bool:
        stats = await h.lab.get(f"/v1/datasets/{ds_id}/annotations/stats")
        return stats.status_code == 200 and stats.json()["sample_stats"]["manual_annotation"] == total

    await wait_until(labeling_has_all, what="labeling received the imported annotations")
    sample = (await h.samples(ds_id, sort_by="sample_name", order="asc"))["items"][0]
    response = await h.lab.put(
        f"/v1/datasets/{ds_id}/annotations/{sample['sample_id']}", json={"annotations": body}
    )
    assert response.status_code == 200, response.text

    async def dataset_followed() -> bool:
        detail = (await h.client.get(f"/v1/datasets/{ds_id}/samples/{sample['sample_id']}")).json()
        return detail["labels"] == [new_label]

    await wait_until(dataset_followed, what="dataset read model follows labeling")
    version = await h.publish(ds_id)
    lines = {line.id: line for line in parse_lines((await h.store.get(version["manifest_path"])).decode())}
    assert len(lines) == total and lines[sample["sample_id"]].labels == [new_label]
    assert version["train_sample_count"] + version["eval_sample_count"] == total
    if dataset_type == 1:
        assert lines[sample["sample_id"]].annotations[0].objects[0]["bndbox"]["xmax"] == 9
    report = await h.check(ds_id, version["version_id"])
    assert {v["rule"] for v in report["violations"] if v["level"] == "error"} <= {"min_samples_per_class"}


async def test_label_rename_and_delete_with_files(both, files) -> None:
    h = both
    ds, _ = await h.import_folder("e2edel", 0, _files(files, 0, {"cat": 3, "dog": 2}))
    ds_id = ds["dataset_id"]

    async def labeled(name: str, count: int):
        async def check() -> bool:
            return (await h.samples(ds_id, label_name=name))["total"] == count

        return check

    await wait_until(await labeled("cat", 3), what="import labels")
    await wait_until(lambda: _label_exists(h, ds_id, "cat"), what="labeling knows cat")
    renamed = await h.lab.put(f"/v1/datasets/{ds_id}/labels/cat", json={"name": "kitty"})
    assert renamed.status_code == 200, renamed.text
    await wait_until(await labeled("kitty", 3), what="rename reached the dataset")
    dogs = (await h.samples(ds_id, label_name="dog"))["items"]
    deleted = await h.lab.delete(f"/v1/datasets/{ds_id}/labels/dog", params={"delete_policy": 2})
    assert deleted.status_code == 200, deleted.text
    assert (await h.samples(ds_id))["total"] == 3
    for sample in dogs:
        assert not await h.store.exists(sample["source"])


async def _label_exists(h, ds_id: str, name: str) -> bool:
    labels = (await h.lab.get(f"/v1/datasets/{ds_id}/labels")).json()
    return any(label["name"] == name for label in labels.get("labels", labels.get("items", [])))


async def test_publish_sees_every_acknowledged_annotation(both, files) -> None:
    """Labeling answered 200 for a batch: a publish right after it (the project's "Next") sees all of it, even
    before the dataset service has applied labeling's events (read-your-writes across labeling → publish)."""
    h = both
    images = {f"clip{i}.jpg": files.image(fmt="JPEG") for i in range(12)}
    ds, _ = await h.import_folder("racing", 0, images)
    ds_id = ds["dataset_id"]

    async def labeling_knows_samples() -> bool:
        stats = (await h.lab.get(f"/v1/datasets/{ds_id}/annotations/stats")).json()
        return stats.get("sample_stats", {}).get("total") == len(images)

    await wait_until(labeling_knows_samples, what="labeling knows the samples")
    ids = [s["sample_id"] for s in (await h.samples(ds_id))["items"]]
    body = {
        "samples": [
            {"sample_id": i, "annotations": [{"name": "cat" if n % 2 else "dog"}]} for n, i in enumerate(ids)
        ]
    }
    labeled = await h.lab.put(f"/v1/datasets/{ds_id}/annotations", json=body)
    assert labeled.status_code == 200 and labeled.json()["changed_sample_count"] == len(ids), labeled.text
    version = await h.publish(ds_id)  # at once: labeling's events may not have reached the dataset yet
    assert version["total_sample_count"] == len(ids)
