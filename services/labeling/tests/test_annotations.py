"""Annotations through the API: the rules of each type, batches, statistics, the snapshot, tenant isolation."""

from __future__ import annotations

from datetime import datetime

IMAGE_CLASSIFICATION, OBJECT_DETECTION, TEXT, SOUND = 0, 1, 100, 200


async def test_relabel_image_classification_with_several_labels(lab) -> None:
    sample = lab.image("1.jpg", [{"name": "cat"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [sample])
    url = f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}"
    client = lab.client()

    response = await client.put(
        url, json={"annotations": [{"name": "dog"}, {"name": "pet"}, {"name": "dog"}]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["labels"] == ["dog", "pet"] and len(response.json()["annotations"]) == 2
    # Labels used for the first time join the label set (automatic colour).
    labels = {
        lbl["name"]: lbl for lbl in (await client.get(f"/v1/datasets/{dataset_id}/labels")).json()["items"]
    }
    assert set(labels) == {"cat", "dog", "pet"} and labels["pet"]["color"].startswith("#")
    assert (await lab.changes(dataset_id))[-1] == {sample.sample_id: ["dog", "pet"]}
    # ModelArts' field name "labels" works too; an empty list makes the sample unlabeled.
    response = await client.put(url, json={"labels": []})
    assert response.status_code == 200 and response.json()["labels"] == []
    assert (await lab.changes(dataset_id))[-1] == {sample.sample_id: []}
    response = await client.put(
        url, json={"annotations": [{"name": "cat", "bndbox": {"xmin": 0, "ymin": 0, "xmax": 5, "ymax": 5}}]}
    )
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "bndbox_not_allowed"
    response = await client.put(url, json={"annotations": [{"name": "c" * 33}]})
    assert response.status_code == 400
    assert response.json()["details"][0] | {"msg": ""} == {
        "rule": "label_name_length",
        "field": "annotations[0].name",
        "value": "c" * 33,
        "msg": "",
    }


async def test_relabel_object_detection_boxes_inside_the_image(lab) -> None:
    sample = lab.image("1.jpg", [lab.box("car", 1, 1, 10, 10)], width=640, height=480)
    dataset_id = await lab.dataset(OBJECT_DETECTION, [sample])
    url = f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}"
    client = lab.client()

    boxes = [
        lab.box("car", 0, 0, 640, 480),
        lab.box("car", 100.5, 20, 300, 200) | {"truncated": 1},
        lab.box("person", 10, 10, 20, 30),
    ]
    response = await client.put(url, json={"annotations": boxes})
    assert response.status_code == 200, response.text
    assert [(a["name"], a["bndbox"]["xmax"], a["truncated"]) for a in response.json()["annotations"]] == [
        ("car", 640, 0),
        ("car", 300, 1),
        ("person", 20, 0),
    ]

    outside = await client.put(url, json={"annotations": [lab.box("car", 600, 10, 641, 20)]})
    assert outside.status_code == 400
    (detail,) = outside.json()["details"]
    assert (detail["rule"], detail["field"]) == ("bndbox_outside_image", "annotations[0].bndbox")
    for bad in (
        lab.box("car", -1, 0, 5, 5),
        lab.box("car", 10, 10, 5, 20),
        {"name": "car"},
        lab.box("car", 1, 1, "NaN", 5),
    ):
        response = await client.put(url, json={"annotations": [bad]})
        assert response.status_code == 400, bad
        assert response.json()["details"][0]["rule"] in ("bndbox_invalid", "bndbox_required", "finite_number")
    # Nothing of the refused requests was stored.
    assert len((await client.get(url)).json()["annotations"]) == 3


async def test_sound_and_text_take_exactly_one_label(lab) -> None:
    client = lab.client()
    for dtype, sample, names in (
        (SOUND, lab.sound("a.wav", [{"name": "bark"}]), ("meow", "bark")),
        (TEXT, lab.text("t#1", [{"name": "pos"}]), ("负面", "pos")),
    ):
        dataset_id = await lab.dataset(dtype, [sample])
        url = f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}"
        response = await client.put(url, json={"annotations": [{"name": n} for n in names]})
        assert response.status_code == 400, dtype
        assert response.json()["details"][0]["rule"] == "single_label"
        assert (await client.get(url)).json()["labels"] == [names[1]]
        response = await client.put(url, json={"annotations": [{"name": names[0]}]})
        assert response.status_code == 200 and response.json()["labels"] == [names[0]]
    response = await client.put(url.replace(sample.sample_id, "0" * 32), json={"annotations": []})
    assert response.status_code == 404 and response.json()["error_code"] == "ModelArts.4420"


async def test_batch_label_and_unlabel(lab) -> None:
    samples = [lab.image(f"{i}.jpg", [{"name": "cat"}] if i == 0 else []) for i in range(4)]
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, samples)
    ids = [s.sample_id for s in samples]
    client = lab.client()

    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/add", json={"sample_ids": ids[:3], "name": "cat"}
    )
    assert response.status_code == 200 and response.json()["changed_sample_count"] == 2
    response = await client.put(
        f"/v1/datasets/{dataset_id}/annotations",
        json={
            "samples": [
                {"sample_id": ids[2], "annotations": [{"name": "cat"}, {"name": "dog"}]},
                {"sample_id": ids[3], "annotations": [{"name": "dog"}]},
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert [s["labels"] for s in response.json()["samples"]] == [["cat", "dog"], ["dog"]]
    stats = await _stats(client, dataset_id)
    assert stats == ({"cat": (3, 3), "dog": (2, 2)}, (4, 4, 0))

    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/remove", json={"sample_ids": ids, "name": "cat"}
    )
    assert response.status_code == 200 and response.json()["changed_sample_count"] == 3
    assert (await lab.changes(dataset_id))[-1] == {ids[0]: [], ids[1]: [], ids[2]: ["dog"]}
    assert await _stats(client, dataset_id) == ({"cat": (0, 0), "dog": (2, 2)}, (4, 2, 2))

    # One broken sample refuses the whole batch; unknown samples are 404.
    response = await client.put(
        f"/v1/datasets/{dataset_id}/annotations",
        json={
            "samples": [
                {"sample_id": ids[0], "annotations": [{"name": "ok"}]},
                {"sample_id": ids[1], "annotations": [{"name": "not ok"}]},
            ]
        },
    )
    assert (
        response.status_code == 400
        and response.json()["details"][0]["field"] == "samples[1].annotations[0].name"
    )
    assert await _stats(client, dataset_id) == ({"cat": (0, 0), "dog": (2, 2)}, (4, 2, 2))
    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/add", json={"sample_ids": [ids[0], "f" * 32], "name": "cat"}
    )
    assert response.status_code == 404
    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/remove", json={"sample_ids": ids, "name": "nope"}
    )
    assert response.status_code == 404 and response.json()["error_code"] == "ModelArts.4410"


async def test_batch_label_replaces_the_single_label_of_sounds(lab) -> None:
    samples = [
        lab.sound("a.wav", [{"name": "bark"}]),
        lab.sound("b.wav"),
        lab.sound("c.wav", [{"name": "meow"}]),
    ]
    dataset_id = await lab.dataset(SOUND, samples)
    client = lab.client()
    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/add",
        json={"sample_ids": [s.sample_id for s in samples], "name": "meow"},
    )
    assert response.status_code == 200 and response.json()["changed_sample_count"] == 2
    assert [s["labels"] for s in response.json()["samples"]] == [["meow"]] * 3
    assert await _stats(client, dataset_id) == ({"bark": (0, 0), "meow": (3, 3)}, (3, 3, 0))
    det_id = await lab.dataset(OBJECT_DETECTION, [lab.image()])
    response = await client.post(
        f"/v1/datasets/{det_id}/annotations/add", json={"sample_ids": ["x"], "name": "a"}
    )
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "bndbox_required"


async def test_stats_count_objects_and_samples(lab) -> None:
    samples = [
        lab.image(
            "1.jpg", [lab.box("car", 1, 1, 5, 5), lab.box("car", 2, 2, 6, 6), lab.box("bus", 1, 1, 9, 9)]
        ),
        lab.image("2.jpg", [lab.box("car", 1, 1, 5, 5)]),
        lab.image("3.jpg"),
    ]
    dataset_id = await lab.dataset(OBJECT_DETECTION, samples)
    body = (await lab.client().get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert {s["name"]: (s["count"], s["sample_count"]) for s in body["label_stats"]} == {
        "car": (3, 2),
        "bus": (1, 1),
    }
    assert body["sample_stats"] | {} == {
        "total": 3,
        "labeled": 2,
        "unlabeled": 1,
        "all": 3,
        "manual_annotation": 2,
        "un_annotation": 1,
    }
    assert all(
        s["type"] == 1 and s["property"]["@modelarts:color"] == s["color"] for s in body["label_stats"]
    )


async def test_internal_snapshot_for_publishing(lab) -> None:
    a = lab.image("a.jpg", [lab.box("car", 1, 2, 3, 4) | {"difficult": 1}])
    b, c = lab.image("b.jpg", [lab.box("bus", 5, 6, 7, 8)]), lab.image("c.jpg")
    dataset_id = await lab.dataset(OBJECT_DETECTION, [a, b, c])
    url = f"/internal/datasets/{dataset_id}/annotations"
    client = lab.client()

    body = (await client.get(url)).json()
    assert body["dataset_id"] == dataset_id
    assert [(lbl["name"], lbl["shortcut"]) for lbl in body["labels"]] == [("bus", None), ("car", None)]
    assert set(body["annotations"]) == {a.sample_id, b.sample_id}  # only labeled samples
    (ann,) = body["annotations"][a.sample_id]
    assert ann | {"created_at": None} == {
        "name": "car",
        "bndbox": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4},
        "pose": "Unspecified",
        "truncated": 0,
        "occluded": 0,
        "difficult": 1,
        "annotated_by": "human",
        "created_at": None,
    }
    assert datetime.fromisoformat(ann["created_at"]).utcoffset().total_seconds() == 0
    only_b = (await client.get(url, params={"sample_ids": f"{b.sample_id},{c.sample_id}"})).json()
    assert set(only_b["annotations"]) == {b.sample_id}
    assert (await lab.client("tenant-b").get(url)).status_code == 404
    assert (await client.get(url.replace(dataset_id, "9" * 32))).status_code == 404


async def test_another_tenant_sees_nothing(lab) -> None:
    sample = lab.image("1.jpg", [{"name": "cat"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [sample])
    other = lab.client("tenant-b")
    base = f"/v1/datasets/{dataset_id}"
    sample_url = f"{base}/annotations/{sample.sample_id}"
    requests = [
        ("GET", f"{base}/labels", None),
        ("POST", f"{base}/labels", {"name": "dog"}),
        ("PUT", f"{base}/labels/cat", {"name": "dog"}),
        ("DELETE", f"{base}/labels/cat", None),
        ("GET", sample_url, None),
        ("PUT", sample_url, {"annotations": [{"name": "dog"}]}),
        ("PUT", f"{base}/annotations", {"samples": [{"sample_id": sample.sample_id, "annotations": []}]}),
        ("POST", f"{base}/annotations/add", {"sample_ids": [sample.sample_id], "name": "dog"}),
        ("POST", f"{base}/annotations/remove", {"sample_ids": [sample.sample_id], "name": "cat"}),
        ("GET", f"{base}/annotations/stats", None),
    ]
    for method, url, body in requests:
        response = await other.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
    # Nothing changed for tenant-a.
    assert (await lab.client().get(sample_url)).json()["labels"] == ["cat"]
    assert [lbl["name"] for lbl in (await lab.client().get(f"{base}/labels")).json()["items"]] == ["cat"]
    # A viewer may read but not write.
    viewer = lab.client(roles=("viewer",))
    assert (await viewer.get(sample_url)).status_code == 200
    assert (await viewer.put(sample_url, json={"annotations": []})).status_code == 403


async def _stats(client, dataset_id: str) -> tuple[dict[str, tuple[int, int]], tuple[int, int, int]]:
    body = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    s = body["sample_stats"]
    return (
        {x["name"]: (x["count"], x["sample_count"]) for x in body["label_stats"]},
        (s["total"], s["labeled"], s["unlabeled"]),
    )


async def test_a_thousand_samples_labeled_at_once(lab) -> None:
    import time

    samples = [lab.image(f"{i}.jpg") for i in range(1000)]
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION)
    for start in (0, 500):  # the dataset service sends at most 500 samples per event
        await lab.add_samples(dataset_id, IMAGE_CLASSIFICATION, samples[start : start + 500])
    client = lab.client()
    started = time.perf_counter()
    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/add",
        json={"sample_ids": [s.sample_id for s in samples], "name": "cat"},
    )
    seconds = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["changed_sample_count"] == 1000
    changes = await lab.changes(dataset_id)
    assert [len(c) for c in changes] == [500, 500]  # one event per 500 samples
    assert all(labels == ["cat"] for c in changes for labels in c.values())
    assert await _stats(client, dataset_id) == ({"cat": (1000, 1000)}, (1000, 1000, 0))
    print(f"labeled 1000 samples in one request: {seconds * 1000:.0f} ms")
    response = await client.post(
        f"/v1/datasets/{dataset_id}/annotations/add",
        json={"sample_ids": [s.sample_id for s in samples] + ["x"], "name": "cat"},
    )
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "sample_ids"


async def test_concurrent_relabels_of_one_sample_leave_one_of_them(lab) -> None:
    import asyncio

    sample = lab.image("1.jpg", [{"name": "cat"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [sample])
    client = lab.client()
    url = f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}"
    choices = [[f"l{i}", f"m{i}"] for i in range(6)]
    responses = await asyncio.gather(
        *(client.put(url, json={"annotations": [{"name": n} for n in names]}) for names in choices)
    )
    assert [r.status_code for r in responses] == [200] * 6
    final = (await client.get(url)).json()
    assert final["labels"] in choices and len(final["annotations"]) == 2


async def test_stats_never_count_more_labeled_than_samples_while_an_import_lands(lab) -> None:
    """Samples keep arriving (a folder-per-label upload, imported through events) while the stats are read:
    whatever moment the stats show, labeled + unlabeled is the total and none is negative."""
    import sqlalchemy as sa
    from labeling.models import Annotation, Label, Sample

    from shared.context import new_id
    from shared.db.base import utcnow
    from shared.db.engine import engine_options, sync_url

    samples = [lab.image(f"{i}.jpg", [{"name": "cat"}]) for i in range(3)]
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, samples)
    db = lab.runtime.db
    writer = sa.create_engine(
        sync_url(db.url), poolclass=sa.pool.NullPool, **engine_options(db.url, db.schema)
    )
    with writer.begin() as conn:
        label_id = conn.execute(sa.select(Label.id).where(Label.dataset_id == dataset_id)).scalar_one()

    def land_one_labeled_sample(*_args: object) -> None:  # another transaction commits between statements
        sample_id = new_id()
        with writer.begin() as conn:
            conn.execute(
                sa.insert(Sample).values(
                    id=sample_id,
                    tenant_id="tenant-a",
                    dataset_id=dataset_id,
                    name=f"{sample_id}.jpg",
                    sample_type=0,
                    width=100,
                    height=80,
                )
            )
            conn.execute(
                sa.insert(Annotation).values(
                    id=new_id(),
                    tenant_id="tenant-a",
                    dataset_id=dataset_id,
                    sample_id=sample_id,
                    label_id=label_id,
                    annotated_by="human",
                    created_at=utcnow(),
                )
            )

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", land_one_labeled_sample)
    try:
        body = (await lab.client().get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", land_one_labeled_sample)
        writer.dispose()
    s = body["sample_stats"]
    assert s["unlabeled"] >= 0 and s["labeled"] + s["unlabeled"] == s["total"], s
    assert s["un_annotation"] == s["unlabeled"] and s["manual_annotation"] == s["labeled"], s
