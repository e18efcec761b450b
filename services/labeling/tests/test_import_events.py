"""Dataset events → labeling's read model: import-time labels, deletions, idempotency, events on the bus."""

from __future__ import annotations

import json

from shared.events.dataset import DatasetDeleted, SamplesDeleted
from shared.messaging.transport import QueueSpec
from shared.testing.platform import wait_until

OBJECT_DETECTION, IMAGE_CLASSIFICATION, TEXT, SOUND = 1, 0, 100, 200


async def test_import_time_labels_create_labels_and_annotations_for_each_type(lab) -> None:
    cls = [
        lab.image("1.jpg", [{"name": "cat"}, {"name": "dog"}]),
        lab.image("2.jpg", [{"name": "cat"}]),
        lab.image("3.jpg"),
    ]
    det = [
        lab.image(
            "d.jpg",
            [
                lab.box("car", 1, 2, 50, 60),
                lab.box("car", 10, 10, 99, 79),
                lab.box("bus", 0, 0, 100, 80) | {"difficult": 1, "pose": "Left"},
            ],
        )
    ]
    snd = [lab.sound("x.wav", [{"name": "bark"}])]
    txt = [lab.text("t.txt#1", [{"name": "正面"}]), lab.text("t.txt#2", [{"name": "neg-1"}])]
    client = lab.client()
    ids = {}
    for dtype, samples in ((IMAGE_CLASSIFICATION, cls), (OBJECT_DETECTION, det), (SOUND, snd), (TEXT, txt)):
        dataset_id = ids[dtype] = await lab.dataset(dtype, samples)
        labels = (await client.get(f"/v1/datasets/{dataset_id}/labels")).json()["items"]
        expected = sorted({a.name for s in samples for a in s.annotations})
        assert sorted(lbl["name"] for lbl in labels) == expected
        assert all(lbl["color"].startswith("#") and len(lbl["color"]) == 7 for lbl in labels)  # auto colour
        assert len({lbl["color"] for lbl in labels}) == len(labels)
        for sample in samples:
            body = (await client.get(f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}")).json()
            assert body["labels"] == sorted({a.name for a in sample.annotations})
        # The dataset service learns which labels were kept.
        (changes,) = await lab.changes(dataset_id)
        assert changes == {
            s.sample_id: sorted({a.name for a in s.annotations}) for s in samples if s.annotations
        }

    body = (await client.get(f"/v1/datasets/{ids[TEXT]}/annotations/{txt[0].sample_id}")).json()
    assert body["annotations"][0]["annotated_by"] == "human"
    boxes = (await client.get(f"/v1/datasets/{ids[OBJECT_DETECTION]}/annotations/{det[0].sample_id}")).json()
    assert [a["bndbox"] for a in boxes["annotations"] if a["name"] == "car"] == [
        {"xmin": 1, "ymin": 2, "xmax": 50, "ymax": 60},
        {"xmin": 10, "ymin": 10, "xmax": 99, "ymax": 79},
    ]
    bus = next(a for a in boxes["annotations"] if a["name"] == "bus")
    assert (bus["difficult"], bus["pose"], bus["truncated"]) == (1, "Left", 0)


async def test_invalid_imported_annotations_leave_the_sample_unlabeled(lab) -> None:
    outside = lab.image("o.jpg", [lab.box("car", 10, 10, 101, 50)], width=100, height=80)
    long_name = lab.image("l.jpg", [lab.box("x" * 33, 1, 1, 5, 5)])
    fine = lab.image("f.jpg", [lab.box("car", 10, 10, 20, 20)])
    dataset_id = await lab.dataset(OBJECT_DETECTION, [outside, long_name, fine])
    two_texts = lab.text("t#1", [{"name": "a"}, {"name": "b"}])
    chinese_image = lab.image("c.jpg", [{"name": "猫"}])
    text_id = await lab.dataset(TEXT, [two_texts])
    cls_id = await lab.dataset(IMAGE_CLASSIFICATION, [chinese_image])

    client = lab.client()
    stats = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert stats["sample_stats"] == {
        "total": 3,
        "labeled": 1,
        "unlabeled": 2,
        "all": 3,
        "manual_annotation": 1,
        "un_annotation": 2,
    }
    assert [s["name"] for s in stats["label_stats"]] == ["car"]
    (changes,) = await lab.changes(dataset_id)
    assert changes == {outside.sample_id: [], long_name.sample_id: [], fine.sample_id: ["car"]}
    assert (await lab.changes(text_id)) == [{two_texts.sample_id: []}]
    assert (await lab.changes(cls_id)) == [{chinese_image.sample_id: []}]  # Chinese only for text


async def test_same_event_twice_has_one_effect(lab) -> None:
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION)
    samples = [lab.image("1.jpg", [{"name": "cat"}]), lab.image("2.jpg")]
    first = await lab.add_samples(dataset_id, IMAGE_CLASSIFICATION, samples)
    await lab.publish(first)  # the relay died after publishing, before marking: the same envelope again
    await lab.processed(first)
    marker = await lab.add_samples(dataset_id, IMAGE_CLASSIFICATION, [lab.image("3.jpg")])  # queue drained
    await lab.processed(marker)

    stats = (await lab.client().get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert stats["label_stats"][0] | {"color": None, "property": None} == {
        "name": "cat",
        "type": 0,
        "color": None,
        "shortcut": None,
        "property": None,
        "count": 1,
        "sample_count": 1,
    }
    assert stats["sample_stats"]["total"] == 3
    assert await lab.sample_rows(dataset_id) == 3
    assert len(await lab.changes(dataset_id)) == 1


async def test_deleted_samples_and_datasets_drop_their_annotations(lab) -> None:
    keep, drop = lab.image("k.jpg", [{"name": "cat"}]), lab.image("d.jpg", [{"name": "cat"}, {"name": "dog"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [keep, drop])
    client = lab.client()
    await lab.processed(await lab.publish(SamplesDeleted(dataset_id=dataset_id, sample_ids=[drop.sample_id])))

    stats = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert {s["name"]: (s["count"], s["sample_count"]) for s in stats["label_stats"]} == {
        "cat": (1, 1),
        "dog": (0, 0),
    }
    assert (await client.get(f"/v1/datasets/{dataset_id}/annotations/{drop.sample_id}")).status_code == 404

    await lab.processed(await lab.publish(DatasetDeleted(dataset_id=dataset_id)))
    assert (await client.get(f"/v1/datasets/{dataset_id}/labels")).status_code == 404
    # A late samples.added (redelivered out of order) does not revive the deleted dataset.
    await lab.add_samples(dataset_id, IMAGE_CLASSIFICATION, [lab.image("late.jpg", [{"name": "cat"}])])
    assert (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).status_code == 404
    assert await lab.sample_rows(dataset_id) == 0


async def test_labeling_events_reach_the_bus(lab) -> None:
    transport = lab.runtime.transport
    probe = f"{lab.platform.namespace}.probe"
    lab.platform.cleanup_queues.append(probe)
    await transport.declare_queue(QueueSpec(probe, ("labeling.#",)))
    sample = lab.image("1.jpg")
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [sample])
    response = await lab.client().put(
        f"/v1/datasets/{dataset_id}/annotations/{sample.sample_id}", json={"annotations": [{"name": "cat"}]}
    )
    assert response.status_code == 200, response.text

    async def received():
        return await transport.get(probe)

    delivery = await wait_until(received, what="labeling event on the probe queue")
    await delivery.ack()
    envelope = json.loads(delivery.body)
    assert delivery.routing_key == envelope["type"] == "labeling.annotations.changed.v1"
    assert envelope["source"] == "/exeml/labeling" and envelope["tenantid"] == "tenant-a"
    assert envelope["data"] == {
        "dataset_id": dataset_id,
        "changes": [{"sample_id": sample.sample_id, "labels": ["cat"]}],
    }
