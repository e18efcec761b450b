"""Label sets: naming and colour rules, shortcuts, rename with annotations following, the delete policies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.auth import INTERNAL_TOKEN_HEADER

IMAGE_CLASSIFICATION, OBJECT_DETECTION, TEXT, SOUND, TABLE = 0, 1, 100, 200, 400


async def test_label_names_follow_the_seed_rules(lab) -> None:
    client = lab.client()
    image_id, text_id = await lab.dataset(IMAGE_CLASSIFICATION), await lab.dataset(TEXT)

    response = await client.post(f"/v1/datasets/{image_id}/labels", json={"name": "x" * 33})
    assert response.status_code == 400
    (detail,) = response.json()["details"]
    assert (detail["field"], detail["rule"]) == ("name", "label_name_length")
    assert (await client.post(f"/v1/datasets/{image_id}/labels", json={"name": "x" * 32})).status_code == 201

    for bad in ("a b", "a+b", "猫", "a.b", ""):
        response = await client.post(f"/v1/datasets/{image_id}/labels", json={"name": bad})
        assert response.status_code == 400, bad
        assert response.json()["details"][0]["field"] == "name"
    assert response.json()["details"][0]["rule"] == "label_name_empty"
    assert (await client.post(f"/v1/datasets/{image_id}/labels", json={"name": "Cat_1-b"})).status_code == 201
    # Text classification allows Chinese characters; it needs a colour.
    response = await client.post(f"/v1/datasets/{text_id}/labels", json={"name": "正面"})
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "label_color_required"
    response = await client.post(f"/v1/datasets/{text_id}/labels", json={"name": "正面", "color": "#FF0000"})
    assert response.status_code == 201 and response.json()["color"] == "#ff0000"
    response = await client.post(f"/v1/datasets/{image_id}/labels", json={"name": "Cat_1-b"})
    assert response.status_code == 409 and response.json()["error_code"] == "ModelArts.4411"


async def test_colour_and_shortcut_rules(lab) -> None:
    client = lab.client()
    det_id, sound_id, table_id = [await lab.dataset(t) for t in (OBJECT_DETECTION, SOUND, TABLE)]

    assert (await client.post(f"/v1/datasets/{det_id}/labels", json={"name": "car"})).status_code == 400
    response = await client.post(f"/v1/datasets/{det_id}/labels", json={"name": "car", "color": "red"})
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "color"
    # ModelArts' property map is understood too.
    response = await client.post(
        f"/v1/datasets/{det_id}/labels", json={"name": "car", "property": {"@modelarts:color": "#3399ff"}}
    )
    assert response.status_code == 201 and response.json()["property"] == {"@modelarts:color": "#3399ff"}
    response = await client.post(
        f"/v1/datasets/{det_id}/labels", json={"name": "bus", "color": "#000000", "shortcut": "B"}
    )
    assert (
        response.status_code == 400 and response.json()["details"][0]["rule"] == "label_shortcut_sound_only"
    )

    response = await client.post(f"/v1/datasets/{sound_id}/labels", json={"name": "bark", "shortcut": "b"})
    assert response.status_code == 201 and response.json()["shortcut"] == "B"
    assert response.json()["color"]  # image and sound labels get a colour automatically
    response = await client.post(f"/v1/datasets/{sound_id}/labels", json={"name": "meow", "shortcut": "B"})
    assert response.status_code == 409 and response.json()["error_code"] == "ModelArts.4412"
    assert (
        await client.post(f"/v1/datasets/{sound_id}/labels", json={"name": "meow", "shortcut": "M"})
    ).status_code == 201
    response = await client.put(f"/v1/datasets/{sound_id}/labels/meow", json={"shortcut": "B"})
    assert response.status_code == 409
    response = await client.put(f"/v1/datasets/{sound_id}/labels/meow", json={"shortcut": None})
    assert response.status_code == 200 and response.json()["shortcut"] is None

    response = await client.post(f"/v1/datasets/{table_id}/labels", json={"name": "x"})
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "dataset_type_not_labeled"
    labels = (await client.get(f"/v1/datasets/{sound_id}/labels")).json()
    assert [lbl["name"] for lbl in labels["items"]] == ["bark", "meow"] and labels["total"] == 2


async def test_rename_moves_every_annotation_and_is_announced(lab) -> None:
    a = lab.image("a.jpg", [lab.box("car", 1, 1, 10, 10), lab.box("car", 5, 5, 20, 20)])
    b = lab.image("b.jpg", [lab.box("bus", 1, 1, 10, 10)])
    dataset_id = await lab.dataset(OBJECT_DETECTION, [a, b])
    client = lab.client()

    response = await client.put(
        f"/v1/datasets/{dataset_id}/labels/car", json={"name": "sedan", "color": "#00ff00"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["color"]) == ("sedan", "#00ff00")
    body = (await client.get(f"/v1/datasets/{dataset_id}/annotations/{a.sample_id}")).json()
    assert [x["name"] for x in body["annotations"]] == ["sedan", "sedan"] and body["labels"] == ["sedan"]
    assert (await client.get(f"/v1/datasets/{dataset_id}/annotations/{b.sample_id}")).json()["labels"] == [
        "bus"
    ]
    assert await lab.events("labeling.label.renamed.v1", dataset_id) == [
        {"dataset_id": dataset_id, "old_name": "car", "new_name": "sedan"}
    ]
    assert (await lab.changes(dataset_id))[-1] == {a.sample_id: ["sedan"]}
    stats = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert {s["name"]: s["count"] for s in stats["label_stats"]} == {"sedan": 2, "bus": 1}

    assert (
        await client.put(f"/v1/datasets/{dataset_id}/labels/sedan", json={"name": "bus"})
    ).status_code == 409
    response = await client.put(f"/v1/datasets/{dataset_id}/labels/sedan", json={"name": "y" * 33})
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "label_name_length"
    response = await client.put(
        f"/v1/datasets/{dataset_id}/labels/sedan", json={"property": {"@modelarts:rename_to": "auto"}}
    )
    assert response.status_code == 200 and response.json()["name"] == "auto"
    assert (await client.put(f"/v1/datasets/{dataset_id}/labels/car", json={"name": "z"})).status_code == 404
    response = await client.put(f"/v1/datasets/{dataset_id}/labels/auto", json={"name": ""})
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "label_name_empty"
    # ModelArts' body for updating one label is the bare property map.
    response = await client.put(
        f"/v1/datasets/{dataset_id}/labels/auto", json={"@modelarts:color": "#93C47D"}
    )
    assert response.status_code == 200 and response.json()["color"] == "#93c47d"


class FakeDatasetService:
    """Stands in for the dataset service's ``POST /v1/datasets/{id}/samples/delete`` (a process boundary):
    records each call with the tenant of its internal token, or refuses it. ``test_with_dataset.py`` runs the
    same policies against the real dataset service."""

    def __init__(self, lab, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        app = FastAPI()
        codec = lab.runtime.token_codec

        @app.post("/v1/datasets/{dataset_id}/samples/delete")
        async def delete_samples(dataset_id: str, request: Request) -> Any:
            tenant = codec.verify(request.headers[INTERNAL_TOKEN_HEADER]).tenant_id
            self.calls.append({"dataset_id": dataset_id, "tenant": tenant, "body": await request.json()})
            if fail:
                return JSONResponse(
                    {"error_code": "ModelArts.4343", "error_msg": "dataset is publishing"}, 400
                )
            return {"success": True}

        lab.runtime.peers.register_app("dataset", app)


@pytest.mark.parametrize("policy", [0, 1, 2])
async def test_delete_policies(lab, policy: int) -> None:
    only_cat = lab.image("1.jpg", [{"name": "cat"}])
    cat_dog = lab.image("2.jpg", [{"name": "cat"}, {"name": "dog"}])
    dog = lab.image("3.jpg", [{"name": "dog"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [only_cat, cat_dog, dog])
    fake = FakeDatasetService(lab)
    client = lab.client()

    response = await client.delete(f"/v1/datasets/{dataset_id}/labels/cat", params={"delete_policy": policy})
    assert response.status_code == 200, response.text
    doomed = [] if policy == 0 else [only_cat.sample_id]
    assert response.json() == {
        "name": "cat",
        "delete_policy": policy,
        "deleted_sample_ids": doomed,
        "changed_sample_count": 2 if policy == 0 else 1,
    }
    if policy == 0:
        assert fake.calls == []
    else:
        assert fake.calls == [
            {
                "dataset_id": dataset_id,
                "tenant": "tenant-a",
                "body": {"samples": [only_cat.sample_id], "delete_source": policy == 2},
            }
        ]
    labels = (await client.get(f"/v1/datasets/{dataset_id}/labels")).json()["items"]
    assert [lbl["name"] for lbl in labels] == ["dog"]
    assert (await client.get(f"/v1/datasets/{dataset_id}/annotations/{cat_dog.sample_id}")).json()[
        "labels"
    ] == ["dog"]
    only_cat_read = await client.get(f"/v1/datasets/{dataset_id}/annotations/{only_cat.sample_id}")
    assert only_cat_read.status_code == (200 if policy == 0 else 404)
    stats = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()["sample_stats"]
    assert (stats["total"], stats["labeled"]) == ((3, 2) if policy == 0 else (2, 2))

    names = ["label_only", "label_and_samples", "label_samples_and_files"]
    assert await lab.events("labeling.label.deleted.v1", dataset_id) == [
        {"dataset_id": dataset_id, "name": "cat", "policy": names[policy], "deleted_sample_ids": doomed}
    ]
    expected = {cat_dog.sample_id: ["dog"]} | ({only_cat.sample_id: []} if policy == 0 else {})
    assert (await lab.changes(dataset_id))[-1] == expected


async def test_refused_sample_deletion_changes_nothing(lab) -> None:
    only_cat = lab.image("1.jpg", [{"name": "cat"}])
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, [only_cat])
    FakeDatasetService(lab, fail=True)
    client = lab.client()
    before = len(await lab.changes(dataset_id))

    response = await client.delete(f"/v1/datasets/{dataset_id}/labels/cat", params={"delete_policy": 1})
    assert response.status_code == 400 and response.json()["error_code"] == "ModelArts.4343"
    assert (await client.get(f"/v1/datasets/{dataset_id}/annotations/{only_cat.sample_id}")).json()[
        "labels"
    ] == ["cat"]
    assert len(await lab.changes(dataset_id)) == before
    assert await lab.events("labeling.label.deleted.v1", dataset_id) == []
    response = await client.delete(f"/v1/datasets/{dataset_id}/labels/cat", params={"delete_policy": 3})
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "delete_policy"


async def test_concurrent_creation_of_one_label(lab) -> None:
    import asyncio

    samples = [lab.image(f"{i}.jpg") for i in range(4)]
    dataset_id = await lab.dataset(IMAGE_CLASSIFICATION, samples)
    client = lab.client()
    created = await asyncio.gather(
        *(client.post(f"/v1/datasets/{dataset_id}/labels", json={"name": "cat"}) for _ in range(4))
    )
    assert sorted(r.status_code for r in created) == [201, 409, 409, 409]
    # Implicit creation by several requests at once: every request succeeds, the label exists once.
    labeled = await asyncio.gather(
        *(
            client.put(
                f"/v1/datasets/{dataset_id}/annotations/{s.sample_id}",
                json={"annotations": [{"name": "zebra"}]},
            )
            for s in samples
        )
    )
    assert [r.status_code for r in labeled] == [200] * 4, [r.text for r in labeled]
    labels = (await client.get(f"/v1/datasets/{dataset_id}/labels")).json()
    assert sorted(lbl["name"] for lbl in labels["items"]) == ["cat", "zebra"]
    stats = (await client.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
    assert {s["name"]: s["sample_count"] for s in stats["label_stats"]} == {"cat": 0, "zebra": 4}


async def test_control_characters_and_odd_ids_are_refused_before_the_database(lab) -> None:
    client = lab.client()
    dataset_id = await lab.dataset(OBJECT_DETECTION)
    base = f"/v1/datasets/{dataset_id}"
    for response in (
        await client.get(f"{base}/annotations/%F1%A4%A6%B0%1E"),
        await client.get("/v1/datasets/a%00/labels"),
        await client.put(f"{base}/labels/a%00b", json={"color": "#ff0000"}),
        await client.delete(f"{base}/labels/%3F%C2%90Q"),
        await client.post(f"{base}/annotations/remove", json={"sample_ids": ["a"], "name": "car\x00"}),
        await client.post(f"{base}/annotations/add", json={"sample_ids": ["a\x00"], "name": "car"}),
        await client.put(f"{base}/annotations", json={"samples": [{"sample_id": "\x01", "annotations": []}]}),
    ):
        assert response.status_code == 400, response.text
    # A well-formed name that does not exist is still a 404.
    assert (await client.delete(f"{base}/labels/car")).status_code == 404


async def test_sound_labels_may_be_chinese_or_english(lab) -> None:
    """The guide: "Only Chinese and English are supported for audio labeling"."""
    client = lab.client()
    barking = lab.sound("bark.wav", [{"name": "狗叫"}])
    sound_id = await lab.dataset(SOUND, [barking])
    assert (await lab.changes(sound_id)) == [{barking.sample_id: ["狗叫"]}]  # the imported label is kept
    for name in ("猫叫", "meow"):
        response = await client.post(f"/v1/datasets/{sound_id}/labels", json={"name": name})
        assert response.status_code == 201, response.text
    renamed = await client.put(f"/v1/datasets/{sound_id}/labels/meow", json={"name": "喵"})
    assert renamed.status_code == 200, renamed.text
    response = await client.post(f"/v1/datasets/{sound_id}/labels", json={"name": "猫 叫"})
    assert response.status_code == 400 and response.json()["details"][0]["rule"] == "label_name_characters"
