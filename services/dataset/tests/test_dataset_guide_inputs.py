"""What the guide's data pages allow (issue 15, item 12): Chinese sound labels, text in ``.csv`` files, the
guide's ``obs://`` paths, a table input path naming its CSV file, and no table at a bucket root."""

from __future__ import annotations

import json

import pytest

from services.dataset.tests.conftest import DatasetHarness

pytestmark = pytest.mark.infra


async def _names_labels(h, dataset_id: str) -> list[tuple[str, list[str]]]:
    items = (await h.samples(dataset_id, sort_by="sample_name", order="asc"))["items"]
    return [(s["sample_name"], s["labels"]) for s in items]


async def test_sound_labels_may_be_chinese_or_english(harness, files) -> None:
    """ "Only Chinese and English are supported for audio labeling": a folder named in Chinese is a label."""
    h = harness
    sounds = {"狗叫/a.wav": files.wav(1.2), "狗叫/b.wav": files.wav(1.3), "meow/c.wav": files.wav(1.2)}
    ds, task = await h.import_folder("sndzh", 200, sounds)
    assert task["status"] == "COMPLETED" and task["errors"] == [], task
    assert await _names_labels(h, ds["dataset_id"]) == [
        ("meow/c.wav", ["meow"]),
        ("狗叫/a.wav", ["狗叫"]),
        ("狗叫/b.wav", ["狗叫"]),
    ]
    # A manifest's sound labels too.
    line = {
        "source": h.uri("in/sndzh/meow/c.wav"),
        "annotation": [{"name": "猫叫", "type": "modelarts/audio_classification", "annotated-by": "human"}],
    }
    await h.store.put(h.uri("m/snd.manifest"), json.dumps(line, ensure_ascii=False).encode())
    other = await h.create("sndzh-manifest", 200, h.uri("m/snd.manifest"))
    task = await h.wait_task(other["dataset_id"], other["import_task_id"])
    assert task["errors"] == [] and task["annotated_sample_count"] == 1, task
    assert [labels for _, labels in await _names_labels(h, other["dataset_id"])] == [["猫叫"]]


async def test_text_files_may_be_csv(harness) -> None:
    """ "Files must be in TXT or CSV format": each row of a .csv is one object, labelled by its ``_result`` file."""
    h = harness
    texts = {
        "comments.csv": "好评,很好\nbad one\n".encode(),
        "comments_result.txt": "正面\nneg\n".encode(),
        "more.csv": b"fine\n",
        "more_result.csv": b"pos\n",
        "plain.txt": b"unlabelled\n",
    }
    ds, task = await h.import_folder("txtcsv", 100, texts)
    assert task["status"] == "COMPLETED" and task["errors"] == [], task
    items = (await h.samples(ds["dataset_id"], sort_by="sample_name", order="asc"))["items"]
    assert [(s["sample_name"], s["text"], s["labels"]) for s in items] == [
        ("comments.csv#1", "好评,很好", ["正面"]),
        ("comments.csv#2", "bad one", ["neg"]),
        ("more.csv#1", "fine", ["pos"]),
        ("plain.txt#1", "unlabelled", []),
    ]
    upload = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/samples",
        files=[
            ("files", ("up.csv", b"one\ntwo\n", "text/csv")),
            ("files", ("up_result.csv", b"pos\nneg\n", "text/csv")),
        ],
    )
    assert upload.status_code == 201, upload.text
    assert [(s["text"], s["labels"]) for s in upload.json()["samples"]] == [
        ("one", ["pos"]),
        ("two", ["neg"]),
    ]
    # An import path may name one .csv file of the folder: it is read with its label file.
    one = await h.create("txtcsv-one", 100, None)
    task = await h.client.post(
        f"/v1/datasets/{one['dataset_id']}/import-tasks",
        json={"import_path": h.uri("in/txtcsv/comments.csv")},
    )
    assert task.status_code == 201, task.text
    task = await h.wait_task(one["dataset_id"], task.json()["task_id"])
    assert task["errors"] == [] and task["annotated_sample_count"] == 2, task
    assert await _names_labels(h, one["dataset_id"]) == [
        ("comments.csv#1", ["正面"]),
        ("comments.csv#2", ["neg"]),
    ]


async def test_obs_paths_name_the_configured_store(harness, files) -> None:
    """The guide writes paths as ``obs://bucket/path``: the same objects as ``s3://``, under the same rules."""
    h = harness
    source = await h.put_tree("in/obs", {"a.jpg": files.image(fmt="JPEG"), "a.txt": b"cat\n"})
    obs = source.replace("s3://", "obs://", 1)
    body = {"dataset_name": "obs", "dataset_type": 0, "input_path": obs, "work_path": h.uri("out/obs/")}
    response = await h.client.post(
        "/v1/datasets", json=body | {"work_path": h.uri("out/obs/").replace("s3", "obs")}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["input_path"] == source and created["work_path"] == h.uri("out/obs/")
    task = await h.wait_task(created["dataset_id"], created["import_task_id"])
    assert task["imported_sample_count"] == 1 and task["import_path"] == source, task
    more = await h.client.post(
        f"/v1/datasets/{created['dataset_id']}/import-tasks", json={"import_path": obs}
    )
    assert more.status_code == 201 and more.json()["import_path"] == source, more.text
    await h.wait_task(created["dataset_id"], more.json()["task_id"])
    moved = await h.client.put(
        f"/v1/datasets/{created['dataset_id']}", json={"work_path": h.uri("out/obs2/").replace("s3", "obs")}
    )
    assert moved.status_code == 200 and moved.json()["work_path"] == h.uri("out/obs2/"), moved.text

    # Tenancy: exactly as for s3://.
    for scheme in ("s3", "obs", "OBS"):
        other = f"{scheme}://{h.bucket}/datasets/tenant-b/x/input/"
        refused = await h.client.post(
            "/v1/datasets", json={"dataset_name": f"steal-{scheme}", "dataset_type": 0, "input_path": other}
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["details"][0]["rule"] == "storage_other_tenant"
        assert refused.json()["details"][0]["field"] == "input_path"
        platform = await h.client.post(
            f"/v1/datasets/{created['dataset_id']}/import-tasks",
            json={"import_path": f"{scheme}://{h.bucket}/models/tenant-a/"},
        )
        assert (
            platform.status_code == 403 and platform.json()["details"][0]["rule"] == "storage_platform_area"
        )
    unknown = await h.client.post(
        "/v1/datasets", json={"dataset_name": "ftp", "dataset_type": 0, "input_path": "ftp://x/y/"}
    )
    assert unknown.status_code == 400 and unknown.json()["details"][0]["field"] == "input_path"


async def test_table_input_path_may_name_the_csv_file(harness, files) -> None:
    """ "The OBS path of the input data must redirect to the data files", e.g. ``/obs-xxx/data/input.csv``."""
    h = harness
    folder = await h.put_tree(
        "in/onefile",
        {
            "input.csv": files.table_csv(120),
            "other.csv": files.table_csv(130),
            "input_result.csv": files.table_csv(110),  # no label file of a table: another table
        },
    )
    path = f"{folder}input.csv"
    ds = await h.create("onefile", 400, path)
    assert ds["input_path"] == path
    task = await h.wait_task(ds["dataset_id"], ds["import_task_id"])
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 1, task
    assert task["import_path"] == path and task["errors"] == []
    detail = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()
    assert detail["row_count"] == 120 and detail["label_column"] == "label"
    assert [s["sample_name"] for s in (await h.samples(ds["dataset_id"]))["items"]] == ["input.csv"]
    # Synchronising the dataset reads the same file again: nothing new.
    sync = await h.client.post(f"/v1/datasets/{ds['dataset_id']}/sync")
    task = await h.wait_task(ds["dataset_id"], sync.json()["task_id"])
    assert task["skipped_sample_count"] == 1 and task["imported_sample_count"] == 0, task
    # ModelArts' form of the same path: /bucket/key, in data_sources.
    modelarts = await h.client.post(
        "/v1/datasets",
        json={
            "dataset_name": "onefile-ma",
            "dataset_type": 400,
            "data_sources": [{"data_path": path.removeprefix("s3:/")}],
            "work_path": h.uri("out/onefile-ma/"),
        },
    )
    assert modelarts.status_code == 201 and modelarts.json()["input_path"] == path, modelarts.text
    task = await h.wait_task(modelarts.json()["dataset_id"], modelarts.json()["import_task_id"])
    assert task["imported_sample_count"] == 1, task


async def test_table_dataset_at_a_bucket_root_is_refused(platform_factory, files) -> None:
    """ "The data files must be stored in a folder in an OBS bucket rather than the root directory"."""
    grants = {"dataset": {"storage_grants": {"tenant-a": ["s3://lake-of-tenant-a/"]}}}
    h = DatasetHarness(await platform_factory(["dataset"], overrides=grants))
    for path in ("s3://lake-of-tenant-a/", "obs://lake-of-tenant-a", "s3://lake-of-tenant-a/input.csv"):
        body = {"dataset_name": "rooted", "dataset_type": 400, "input_path": path}
        response = await h.client.post("/v1/datasets", json=body)
        assert response.status_code == 400, (path, response.text)
        detail = response.json()["details"][0]
        assert detail["field"] == "input_path" and detail["rule"] == "table_bucket_root", (path, detail)
    # A folder of that bucket is fine, and so is an image dataset at its root.
    folder = await h.client.post(
        "/v1/datasets",
        json={
            "dataset_name": "in-folder",
            "dataset_type": 400,
            "input_path": "s3://lake-of-tenant-a/data/",
            "work_path": h.uri("out/t/"),
            "import_on_create": False,
        },
    )
    assert folder.status_code == 201, folder.text
    moved = await h.client.put(
        f"/v1/datasets/{folder.json()['dataset_id']}", json={"input_path": "s3://lake-of-tenant-a/"}
    )
    assert moved.status_code == 400 and moved.json()["details"][0]["rule"] == "table_bucket_root"
    images = await h.client.post(
        "/v1/datasets",
        json={
            "dataset_name": "images-at-root",
            "dataset_type": 0,
            "input_path": "s3://lake-of-tenant-a/",
            "work_path": h.uri("out/i/"),
            "import_on_create": False,
        },
    )
    assert images.status_code == 201, images.text
