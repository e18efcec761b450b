"""The dataset API around import and publish: sync, manifests, sample access, events in and out, isolation."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image

from shared.events.labeling import LabelDeleted, LabelRenamed
from shared.testing.bus import publish_event
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra


def _cls_files(files, labels: dict[str, int], start: int = 0) -> dict[str, bytes]:
    out = {}
    for label, count in labels.items():
        for i in range(start, start + count):
            out[f"{label}{i}.jpg"] = files.image(fmt="JPEG")
            out[f"{label}{i}.txt"] = f"{label}\n".encode()
    return out


async def test_other_tenant_gets_404(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("mine", 0, _cls_files(files, {"cat": 2}))
    ds_id = ds["dataset_id"]
    sample_id = (await h.samples(ds_id))["items"][0]["sample_id"]
    other = h.platform.client("dataset", tenant_id="tenant-b")
    assert (await other.get("/v1/datasets")).json()["total"] == 0
    for path in (
        f"/v1/datasets/{ds_id}",
        f"/v1/datasets/{ds_id}/samples",
        f"/v1/datasets/{ds_id}/samples/{sample_id}",
        f"/v1/datasets/{ds_id}/samples/{sample_id}/content",
        f"/v1/datasets/{ds_id}/versions",
        f"/v1/datasets/{ds_id}/import-tasks",
    ):
        response = await other.get(path)
        assert response.status_code == 404, (path, response.text)
    assert (await other.delete(f"/v1/datasets/{ds_id}")).status_code == 404
    deleted = await other.post(f"/v1/datasets/{ds_id}/samples/delete", json={"samples": [sample_id]})
    assert deleted.status_code == 404
    assert (await other.post(f"/v1/datasets/{ds_id}/versions", json={})).status_code == 404
    assert (await h.samples(ds_id))["total"] == 2  # untouched for its owner
    unauthenticated = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=h.platform.apps["dataset"]), base_url="http://d"
    )
    assert (await unauthenticated.get("/v1/datasets")).status_code == 401
    await unauthenticated.aclose()


async def test_sync_adds_only_new_files(harness, files) -> None:
    h = harness
    ds, _first = await h.import_folder("syncme", 0, _cls_files(files, {"cat": 2}))
    await h.put_tree("in/syncme", _cls_files(files, {"dog": 3}))
    response = await h.client.post(f"/v1/datasets/{ds['dataset_id']}/sync")
    assert response.status_code == 201, response.text
    task = await h.wait_task(ds["dataset_id"], response.json()["task_id"])
    assert task["kind"] == "sync" and task["imported_sample_count"] == 3 and task["skipped_sample_count"] == 2
    listing = await h.samples(ds["dataset_id"])
    assert listing["total"] == 5
    assert len({s["source"] for s in listing["items"]}) == 5
    tasks = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}/import-tasks")).json()
    assert tasks["total"] == 2
    added = await h.outbox_events("dataset.samples.added.v1")
    assert sum(len(e["data"]["samples"]) for e in added) == 5
    completed = await h.outbox_events("dataset.import.completed.v1")
    assert [e["data"]["added"] for e in completed] == [2, 3]


async def test_deleted_samples_stay_deleted_across_sync(harness, files) -> None:
    """The guide: "The deleted images cannot be recovered": a sync skips the kept source files of deleted
    samples (reported as skipped, not as errors); a user's upload of the same file name is a new sample."""
    h = harness
    ds, _ = await h.import_folder("forgetme", 0, _cls_files(files, {"cat": 2, "dog": 2}))
    ds_id = ds["dataset_id"]
    items = (await h.samples(ds_id, sort_by="sample_name", order="asc"))["items"]
    victim, by_label = items[0], items[-1]  # cat0.jpg by the batch delete, dog1.jpg by a label policy 1
    deleted = await h.client.post(
        f"/v1/datasets/{ds_id}/samples/delete",
        json={"samples": [victim["sample_id"]], "delete_source": False},
    )
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 1
    await _publish_label_event(
        h,
        LabelDeleted(
            dataset_id=ds_id,
            name="dog",
            policy="label_and_samples",
            deleted_sample_ids=[by_label["sample_id"]],
        ),
    )

    async def label_policy_applied() -> bool:
        return (await h.samples(ds_id))["total"] == 2

    await wait_until(label_policy_applied, what="label deleted with its sample")
    assert await h.store.exists(victim["source"]) and await h.store.exists(by_label["source"])
    response = await h.client.post(f"/v1/datasets/{ds_id}/sync")
    assert response.status_code == 201, response.text
    task = await h.wait_task(ds_id, response.json()["task_id"])
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 0, task
    assert task["skipped_sample_count"] == 4 and task["failed_sample_count"] == 0, task
    names = sorted(s["sample_name"] for s in (await h.samples(ds_id))["items"])
    assert victim["sample_name"] not in names and by_label["sample_name"] not in names and len(names) == 2

    name = victim["sample_name"].rsplit("/", 1)[-1]
    upload = await h.client.post(
        f"/v1/datasets/{ds_id}/samples", files=[("files", (name, files.image(fmt="JPEG"), "image/jpeg"))]
    )
    assert upload.status_code in (200, 201), upload.text
    assert (await h.samples(ds_id))["total"] == 3


async def test_manifest_import_lenient(harness, files) -> None:
    h = harness
    await h.put_tree(
        "raw",
        {
            "a.jpg": files.image(fmt="JPEG"),
            "b.jpg": files.image(fmt="JPEG"),
            "c.jpg": files.image(fmt="JPEG"),
        },
    )
    lines = [
        {
            "source": h.uri("raw/a.jpg"),
            "usage": "train",
            "annotation": [
                {
                    "type": "modelarts/image_classification",
                    "name": "cat",
                    "Annotated_By": "human",
                    "creation_time": "2024-01-01 00:00:00",
                }
            ],
        },
        {"Source": h.uri("raw/b.jpg"), "annotation": []},
        "this is not json",
        {"source": h.uri("raw/missing.jpg"), "annotation": []},
        {
            "source": h.uri("raw/c.jpg"),
            "annotation": [{"type": "modelarts/image_classification", "name": "x" * 40}],
        },
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    await h.store.put(h.uri("raw/in.manifest"), text.encode())
    ds = await h.create("fromman", 0, None)
    response = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/import-tasks", json={"import_path": h.uri("raw/in.manifest")}
    )
    assert response.status_code == 201 and response.json()["import_type"] == "manifest"
    task = await h.wait_task(ds["dataset_id"], response.json()["task_id"])
    manifest = h.uri("raw/in.manifest")
    rules = {e["file"]: e["rule"] for e in task["errors"]}
    a, b, missing = (f"{h.bucket}/{h.key(f'raw/{n}.jpg')}" for n in ("a", "b", "missing"))
    assert rules == {
        f"{manifest}#3": "manifest_line",
        missing: "file_missing",
        f"{manifest}#5": "label_name_length",
    }, task["errors"]
    samples = {s["sample_name"]: s for s in (await h.samples(ds["dataset_id"]))["items"]}
    assert set(samples) == {a, b}
    assert samples[a]["labels"] == ["cat"] and not samples[b]["labeled"]


async def test_sample_listing_detail_content(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder(
        "browse", 0, _cls_files(files, {"cat": 3, "dog": 2}) | {"free.jpg": files.image(fmt="JPEG")}
    )
    ds_id = ds["dataset_id"]
    assert (await h.samples(ds_id, sample_state="__NONE__"))["total"] == 1
    assert (await h.samples(ds_id, labeled="true"))["total"] == 5
    assert (await h.samples(ds_id, label_name="dog"))["total"] == 2
    page = await h.samples(ds_id, offset=2, limit=2, sort_by="sample_name", order="asc")
    assert page["total"] == 6 and [s["sample_name"] for s in page["items"]] == ["cat2.jpg", "dog0.jpg"]
    sample = page["items"][0]
    detail = (await h.client.get(f"/v1/datasets/{ds_id}/samples/{sample['sample_id']}")).json()
    assert detail["url"].startswith("http") and "cat2.jpg" in detail["url"] and detail["width"] == 32
    content = await h.client.get(detail["content_url"])
    assert content.status_code == 200 and content.headers["content-type"] == "image/jpeg"
    assert content.content == await h.store.get(sample["source"])
    thumb = await h.client.get(detail["content_url"], params={"thumbnail": "true"})
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    info = (await h.client.get(f"/v1/datasets/{ds_id}")).json()
    assert (info["sample_count"], info["labeled_sample_count"], info["unlabeled_sample_count"]) == (6, 5, 1)


async def _publish_label_event(h, event) -> None:
    await publish_event(h.runtime.transport, event, tenant_id=h.tenant_id, source="/exeml/labeling")


async def test_label_renamed_and_deleted_events(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("relabel", 0, _cls_files(files, {"cat": 2, "dog": 2}))
    ds_id = ds["dataset_id"]
    await _publish_label_event(h, LabelRenamed(dataset_id=ds_id, old_name="cat", new_name="kitty"))

    async def renamed() -> bool:
        return (await h.samples(ds_id, label_name="kitty"))["total"] == 2

    await wait_until(renamed, what="label renamed")
    dogs = [s["sample_id"] for s in (await h.samples(ds_id, label_name="dog"))["items"]]
    await _publish_label_event(
        h, LabelDeleted(dataset_id=ds_id, name="dog", policy="label_and_samples", deleted_sample_ids=dogs)
    )

    async def deleted() -> bool:
        return (await h.samples(ds_id))["total"] == 2

    await wait_until(deleted, what="label deleted with its samples")
    assert (await h.samples(ds_id, label_name="dog"))["total"] == 0
    events = await h.outbox_events("dataset.samples.deleted.v1")
    assert sorted(events[-1]["data"]["sample_ids"]) == sorted(dogs)


async def test_delete_samples_with_source_and_versions(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("deleting", 0, _cls_files(files, {"cat": 3, "dog": 3}))
    ds_id = ds["dataset_id"]
    items = (await h.samples(ds_id, sort_by="sample_name", order="asc"))["items"]
    victim = items[0]
    response = await h.client.post(
        f"/v1/datasets/{ds_id}/samples/delete",
        json={"samples": [victim["sample_id"], "nope"], "delete_source": True},
    )
    body = response.json()
    assert response.status_code == 200 and body["deleted"] == 1 and not body["success"]
    assert body["results"][1]["error_code"] == "ModelArts.4420"
    assert not await h.store.exists(victim["source"])
    assert await h.store.exists(items[1]["source"])

    bad_ratio = await h.client.post(
        f"/v1/datasets/{ds_id}/versions", json={"train_evaluate_sample_ratio": "1.5"}
    )
    assert bad_ratio.status_code == 400
    too_precise = await h.client.post(
        f"/v1/datasets/{ds_id}/versions", json={"train_evaluate_sample_ratio": "0.123456"}
    )
    assert too_precise.status_code == 400
    version = await h.publish(ds_id, version_name="first")
    dup = await h.client.post(f"/v1/datasets/{ds_id}/versions", json={"version_name": "first"})
    assert dup.status_code == 409 and dup.json()["error_code"] == "ModelArts.4371"
    second = await h.publish(ds_id, train_evaluate_sample_ratio=1)
    assert second["version_name"] == "V001" and second["eval_sample_count"] == 0
    versions = (await h.client.get(f"/v1/datasets/{ds_id}/versions")).json()
    assert versions["total"] == 2
    assert (
        await h.client.delete(f"/v1/datasets/{ds_id}/versions/{version['version_id']}")
    ).status_code == 204
    assert not await h.store.exists(version["manifest_path"])
    assert (await h.client.get(f"/v1/datasets/{ds_id}/versions/{version['version_id']}")).status_code == 404
    assert (await h.client.delete(f"/v1/datasets/{ds_id}")).status_code == 204
    assert (await h.client.get(f"/v1/datasets/{ds_id}")).status_code == 404
    assert len(await h.outbox_events("dataset.deleted.v1")) == 1


async def test_publish_without_labels_refused(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("nolabels", 0, {"a.jpg": files.image(fmt="JPEG")})
    response = await h.client.post(f"/v1/datasets/{ds['dataset_id']}/versions", json={})
    assert response.status_code == 400 and response.json()["error_code"] == "ModelArts.4711"


async def test_other_tenants_storage_area_is_refused(harness, files) -> None:
    h = harness
    ds = await h.create("ownarea", 0, None)
    other_area = f"s3://{h.bucket}/datasets/tenant-b/x/input/"
    response = await h.client.post(
        "/v1/datasets", json={"dataset_name": "steal", "dataset_type": 0, "input_path": other_area}
    )
    assert response.status_code == 403 and response.json()["details"][0]["rule"] == "storage_other_tenant"
    stolen = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/import-tasks", json={"import_path": other_area}
    )
    assert stolen.status_code == 403
    await h.store.put(f"{other_area}a.jpg", files.image(fmt="JPEG"))
    await h.store.put(h.uri("m/in.manifest"), json.dumps({"source": f"{other_area}a.jpg"}).encode())
    task = (
        await h.client.post(
            f"/v1/datasets/{ds['dataset_id']}/import-tasks", json={"import_path": h.uri("m/in.manifest")}
        )
    ).json()
    task = await h.wait_task(ds["dataset_id"], task["task_id"])
    assert [e["rule"] for e in task["errors"]] == ["storage_other_tenant"] and task[
        "imported_sample_count"
    ] == 0
    assert "tenant-b" not in json.dumps(
        task["errors"]
    )  # the refusal names the line and the rule, not the object


async def test_modelarts_data_sources_body_is_honoured(harness, files) -> None:
    """ModelArts' create body names its folder in ``data_sources[0].data_path`` and writes paths as
    ``/bucket/key/``: the folder is the dataset's input path and is imported; what cannot be honoured is a 400."""
    h = harness
    source = await h.put_tree("in/ma", _cls_files(files, {"cat": 2, "dog": 1}))
    bucket_path = source.removeprefix("s3:/")  # "/<bucket>/tenants/tenant-a/in/ma/", as ModelArts writes it
    body = {
        "workspace_id": "0",
        "dataset_name": "modelarts-shaped",
        "dataset_type": 0,
        "data_sources": [{"data_type": 0, "data_path": bucket_path}],
        "work_path": h.uri("out/ma/").removeprefix("s3:/"),
        "work_path_type": 0,
    }
    response = await h.client.post("/v1/datasets", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["input_path"] == source and created["work_path"] == h.uri("out/ma/")
    task = await h.wait_task(created["dataset_id"], created["import_task_id"])
    assert task["imported_sample_count"] == 3 and task["import_path"] == source, task

    # A table's header flag travels in its data source.
    tables = await h.put_tree("in/matable", {"t.csv": files.table_csv(120, header=False)})
    table = await h.client.post(
        "/v1/datasets",
        json={
            "dataset_name": "ma-table",
            "dataset_type": 400,
            "data_sources": [{"data_path": tables, "with_column_header": False}],
            "work_path": h.uri("out/matable/"),
        },
    )
    assert table.status_code == 201, table.text
    assert table.json()["with_column_header"] is False and table.json()["input_path"] == tables

    refused = {
        "data_type": ({"data_sources": [{"data_type": 1, "data_path": source}]}, "data_sources.0.data_type"),
        "two sources": (
            {"data_sources": [{"data_path": source}, {"data_path": h.uri("in/other/")}]},
            "data_sources",
        ),
        "both paths": ({"data_sources": [{"data_path": source}], "input_path": source}, "data_sources"),
        "no path": ({"data_sources": [{"data_type": 0}]}, "data_sources.0.data_path"),
        "work path type": ({"data_sources": [{"data_path": source}], "work_path_type": 1}, "work_path_type"),
        "header twice": (
            {
                "dataset_type": 400,
                "data_sources": [{"data_path": tables, "with_column_header": False}],
                "with_column_header": True,
            },
            "with_column_header",
        ),
    }
    for name, (change, field) in refused.items():
        bad = {"dataset_name": f"bad-{name.replace(' ', '-')}", "dataset_type": 0} | change
        response = await h.client.post("/v1/datasets", json=bad)
        assert response.status_code == 400, (name, response.text)
        assert any(d.get("field") == field for d in response.json()["details"]), (name, response.json())
    listed = (await h.client.get("/v1/datasets", params={"search_content": "bad-"})).json()
    assert listed["total"] == 0  # nothing was created half-way
    # A /bucket/key/ path is subject to the same storage rules as s3://bucket/key/.
    other = await h.client.post(
        "/v1/datasets",
        json={
            "dataset_name": "ma-other",
            "dataset_type": 0,
            "data_sources": [{"data_path": f"/{h.bucket}/datasets/tenant-b/x/input/"}],
        },
    )
    assert other.status_code == 403 and other.json()["details"][0]["rule"] == "storage_other_tenant"
