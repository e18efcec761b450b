"""Bad input: each file is reported with its name and rule, the rest of the import succeeds, nothing else changes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def _errors(task) -> dict[str, str]:
    return {e["file"]: e["rule"] for e in task["errors"]}


async def _names(h, ds_id: str) -> set[str]:
    return {s["sample_name"] for s in (await h.samples(ds_id))["items"]}


async def test_image_classification_bad_files(harness, files) -> None:
    good = {f"ok{i}.jpg": files.image(fmt="JPEG") for i in range(4)} | {
        f"ok{i}.txt": b"cat\n" for i in range(4)
    }
    bad = {
        "truncated.png": files.truncated_png(),
        "renamed.jpg": b"just some text, not an image\n",
        "empty.jpg": b"",
        "a+b.jpg": files.image(),
        "with space.jpg": files.image(),
        "long.jpg": files.image(),
        "long.txt": ("x" * 33 + "\n").encode(),
        "illegal.jpg": files.image(),
        "illegal.txt": b"cat!\n",
        "notes.md": b"# readme",
    }
    ds, task = await harness.import_folder("imgbad", 0, good | bad)
    assert task["status"] == "COMPLETED"
    assert _errors(task) == {
        "truncated.png": "image_decode",
        "renamed.jpg": "image_decode",
        "empty.jpg": "empty_file",
        "a+b.jpg": "file_name_characters",
        "with space.jpg": "file_name_characters",
        "long.txt": "label_name_length",
        "illegal.txt": "label_name_characters",
        "notes.md": "file_type",
    }
    assert task["imported_sample_count"] == 4 and task["failed_sample_count"] == 8
    assert await _names(harness, ds["dataset_id"]) == {f"ok{i}.jpg" for i in range(4)}


async def test_detection_bad_files(harness, files) -> None:
    good = {f"ok{i}.png": files.image() for i in range(3)} | {
        f"ok{i}.xml": files.voc([("car", 1, 1, 10, 10)], filename=f"ok{i}.png") for i in range(3)
    }
    bad = {
        "outside.png": files.image(32, 24),
        "outside.xml": files.voc([("car", 1, 1, 40, 10)], filename="outside.png"),
        "broken.png": files.image(),
        "broken.xml": b"<annotation><object><name>car</name>",
        "猫.png": files.image(),
    }
    ds, task = await harness.import_folder("detbad", 1, good | bad)
    assert _errors(task) == {
        "outside.xml": "voc_box_outside",
        "broken.xml": "voc_xml",
        "猫.png": "file_name_chinese",
    }
    assert "not inside" in next(e["msg"] for e in task["errors"] if e["file"] == "outside.xml")
    samples = {s["sample_name"]: s for s in (await harness.samples(ds["dataset_id"]))["items"]}
    # The image whose box leaves it is imported, but unlabeled (the seed's rule); the broken one is not imported.
    assert set(samples) == {"ok0.png", "ok1.png", "ok2.png", "outside.png"}
    assert not samples["outside.png"]["labeled"] and samples["ok0.png"]["labels"] == ["car"]


async def test_voc_of_another_image_and_inverted_boxes(harness, files) -> None:
    """A VOC file naming another image is a bad pair (not attached); an inverted box has its own rule."""
    box = [("car", 1, 1, 10, 10)]
    pairs = {
        "named": files.voc(box, filename="named.png"),
        "cased": files.voc(box, filename="C:\\photos\\CASED.PNG"),  # folders ignored, any case
        "stem": files.voc(box, filename="stem"),  # some tools leave the extension out
        "blank": files.voc(box, filename=""),
        "absent": files.voc(box),
        "swapped": files.voc([("bus", 2, 2, 12, 12)], filename="named.png"),
        "inverted": files.voc([("car", 1, 1, 10, 10), ("bus", 20, 2, 5, 12)], filename="inverted.png"),
        "flat": files.voc([("car", 3, 9, 10, 9)], filename="flat.png"),
    }
    tree = {f"{stem}.png": files.image() for stem in pairs} | {f"{s}.xml": x for s, x in pairs.items()}
    ds, task = await harness.import_folder("detpairs", 1, tree)
    assert task["status"] == "COMPLETED"
    assert _errors(task) == {
        "swapped.xml": "voc_filename_mismatch",
        "inverted.xml": "voc_box_inverted",
        "flat.xml": "voc_box_inverted",
    }
    swapped = next(e for e in task["errors"] if e["file"] == "swapped.xml")
    assert swapped["field"] == "filename" and "named.png" in swapped["msg"]
    inverted = next(e for e in task["errors"] if e["file"] == "inverted.xml")
    assert "bus" in inverted["msg"] and "not inside" not in inverted["msg"]
    assert task["failed_sample_count"] == 1
    samples = {s["sample_name"]: s for s in (await harness.samples(ds["dataset_id"]))["items"]}
    # The swapped pair is not imported (its boxes belong to another image); inverted boxes leave theirs unlabeled.
    assert set(samples) == {f"{stem}.png" for stem in pairs} - {"swapped.png"}
    assert {n for n, s in samples.items() if s["labels"] == ["car"]} == {
        "named.png",
        "cased.png",
        "stem.png",
        "blank.png",
        "absent.png",
    }
    assert not samples["inverted.png"]["labeled"] and not samples["flat.png"]["labeled"]


async def test_voc_of_another_image_refused_and_inverted_boxes_stored_unlabeled_on_upload(
    harness, files
) -> None:
    ds = await harness.create("detup", 1, None)
    url = f"/v1/datasets/{ds['dataset_id']}/samples"
    swapped = await harness.client.post(
        url,
        files=[
            ("files", ("a.png", files.image(), "image/png")),
            ("files", ("a.xml", files.voc([("car", 1, 1, 10, 10)], filename="b.png"), "application/xml")),
        ],
    )
    assert swapped.status_code == 400
    detail = swapped.json()["details"][0]
    assert (detail["file"], detail["field"], detail["rule"]) == ("a.xml", "filename", "voc_filename_mismatch")
    # Its image is not stored either, and the answer names it.
    assert [(d["file"], d["rule"]) for d in swapped.json()["details"][1:]] == [("a.png", "pair_rejected")]
    assert (await harness.samples(ds["dataset_id"]))["total"] == 0
    # The seed's rule for inverted boxes: the image is imported, unlabeled; the answer says so, truly.
    inverted = await harness.client.post(
        url,
        files=[
            ("files", ("a.png", files.image(), "image/png")),
            ("files", ("a.xml", files.voc([("car", 10, 1, 1, 10)], filename="a.png"), "application/xml")),
        ],
    )
    assert inverted.status_code == 201, inverted.text
    assert inverted.json()["rejected"] == []
    assert [(w["file"], w["rule"]) for w in inverted.json()["warnings"]] == [("a.xml", "voc_box_inverted")]
    assert "imported unlabeled" in inverted.json()["warnings"][0]["msg"]
    [sample] = (await harness.samples(ds["dataset_id"]))["items"]
    assert (sample["sample_name"], sample["labeled"]) == ("a.png", False)


async def test_sound_bad_files(harness, files) -> None:
    good = {f"bark/b{i}.wav": files.wav(1.2) for i in range(2)}
    bad = {
        "bark/eight.wav": files.pcm8_wav(),
        "bark/short.wav": files.wav(0.5),
        "bark/fake.wav": b"RIFF? no, text",
    }
    ds, task = await harness.import_folder("sndbad", 200, good | bad)
    assert _errors(task) == {
        "bark/eight.wav": "audio_bit_depth",
        "bark/short.wav": "audio_duration",
        "bark/fake.wav": "audio_format",
    }
    assert await _names(harness, ds["dataset_id"]) == {"bark/b0.wav", "bark/b1.wav"}


async def test_text_bad_files(harness) -> None:
    files = {
        "ok.txt": b"great\nawful\n",
        "ok_result.txt": b"pos\nneg\n",
        "short.txt": b"one\ntwo\nthree\n",
        "short_result.txt": b"pos\n",
        "gbk.txt": "\u4e2d\u6587\u6587\u672c".encode("gbk"),
    }
    ds, task = await harness.import_folder("txtbad", 100, files)
    assert _errors(task) == {"short_result.txt": "result_lines", "gbk.txt": "text_encoding"}
    samples = (await harness.samples(ds["dataset_id"], sort_by="sample_name", order="asc"))["items"]
    assert [(s["sample_name"], s["text"], s["labels"]) for s in samples] == [
        ("ok.txt#1", "great", ["pos"]),
        ("ok.txt#2", "awful", ["neg"]),
    ]


async def test_text_result_with_more_lines_than_its_text_is_a_bad_pair(harness) -> None:
    """Both sides of the pair must line up: extra label lines mean they do not belong together."""
    files = {
        "ok.txt": b"great\nawful\n",
        "ok_result.txt": b"pos\nneg\n\n",  # a trailing blank line labels nothing: accepted
        "long.txt": b"one\ntwo\n",
        "long_result.txt": b"pos\nneg\npos\n",
    }
    ds, task = await harness.import_folder("txtlong", 100, files)
    assert task["status"] == "COMPLETED"
    assert _errors(task) == {"long_result.txt": "result_lines"}
    assert task["failed_sample_count"] == 1
    samples = (await harness.samples(ds["dataset_id"], sort_by="sample_name", order="asc"))["items"]
    assert [(s["sample_name"], s["labels"]) for s in samples] == [
        ("ok.txt#1", ["pos"]),
        ("ok.txt#2", ["neg"]),
    ]
    upload = await harness.client.post(
        f"/v1/datasets/{ds['dataset_id']}/samples",
        files=[
            ("files", ("up.txt", b"one\ntwo\n", "text/plain")),
            ("files", ("up_result.txt", b"pos\nneg\npos\n", "text/plain")),
        ],
    )
    assert upload.status_code == 400
    assert [(d["file"], d["rule"]) for d in upload.json()["details"]] == [
        ("up_result.txt", "result_lines"),
        ("up.txt", "pair_rejected"),  # the text file of the bad pair is not stored either
    ]


async def test_table_with_250_columns_rejected(harness, files) -> None:
    ds, task = await harness.import_folder(
        "tblwide", 400, {"ok.csv": files.table_csv(120), "wide.csv": files.table_csv(5, columns=250)}
    )
    assert _errors(task) == {"wide.csv": "table_columns"}
    assert await _names(harness, ds["dataset_id"]) == {"ok.csv"}


async def test_uploads_over_limits_or_with_no_valid_file_change_nothing(harness, files) -> None:
    h = harness
    ds = await h.create("uploads", 0, None)
    ds_id = ds["dataset_id"]
    url = f"/v1/datasets/{ds_id}/samples"

    ok = await h.client.post(
        url,
        files=[
            ("files", ("a.jpg", files.image(fmt="JPEG"), "image/jpeg")),
            ("files", ("a.txt", b"cat\n", "text/plain")),
        ],
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["samples"][0]["labels"] == ["cat"]
    stored = await h.store.list(h.bucket, f"datasets/{h.tenant_id}/{ds_id}/input/")
    assert sorted(i.key.rsplit("/", 1)[-1] for i in stored) == ["a.jpg", "a.txt"]

    too_big = await h.client.post(
        url, files=[("files", ("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1), "image/jpeg"))]
    )
    assert too_big.status_code == 413 and too_big.json()["details"][0]["file"] == "big.jpg"
    batch = [("files", (f"p{i}.png", b"\x00" * (3 * 1024 * 1024), "image/png")) for i in range(3)]
    assert (await h.client.post(url, files=batch)).status_code == 413
    traversal = await h.client.post(url, files=[("files", ("../../escape.jpg", files.image(), "image/jpeg"))])
    assert traversal.status_code == 403 and traversal.json()["details"][0]["rule"] == "storage_path_traversal"
    mixed = await h.client.post(
        url,
        files=[
            ("files", ("good.png", files.image(), "image/png")),
            ("files", ("bad.png", files.truncated_png(), "image/png")),
            ("files", ("bad.txt", ("y" * 33).encode(), "text/plain")),
        ],
    )
    # A mixed upload keeps its valid file and names the others (the label file of the bad image with it).
    assert mixed.status_code == 207, mixed.text
    assert [s["sample_name"] for s in mixed.json()["samples"]] == ["good.png"]
    assert {(d["file"], d["rule"]) for d in mixed.json()["rejected"]} == {
        ("bad.png", "image_decode"),
        ("bad.txt", "pair_rejected"),
    }
    wav_ds = await h.create("wavup", 200, None)
    big_wav = await h.client.post(
        f"/v1/datasets/{wav_ds['dataset_id']}/samples",
        files=[("files", ("x.wav", b"\x00" * (4 * 1024 * 1024 + 1), "audio/wav"))],
    )
    assert big_wav.status_code == 413

    # Nothing of the refused uploads was stored, nor the rejected files of the mixed one.
    assert (await h.samples(ds_id))["total"] == 2
    stored = await h.store.list(h.bucket, f"datasets/{h.tenant_id}/{ds_id}/input/")
    assert sorted(i.key.rsplit("/", 1)[-1] for i in stored) == ["a.jpg", "a.txt", "good.png"]
    duplicate = await h.client.post(url, files=[("files", ("a.jpg", files.image(fmt="JPEG"), "image/jpeg"))])
    assert duplicate.status_code == 409


async def test_dataset_fields_validated(harness) -> None:
    c = harness.client
    bad = [
        {"dataset_name": "bad name", "dataset_type": 0},
        {"dataset_name": "x", "dataset_type": 3},
        {"dataset_name": "x", "dataset_type_name": "video"},
        {"dataset_name": "x", "dataset_type": 0, "input_path": "http://example.com/a"},
        {"dataset_name": "x", "dataset_type": 0, "description": "a<b"},
        {"dataset_name": "x", "dataset_type": 0, "import_on_create": 0},  # flags are JSON booleans, not 0/1
    ]
    for body in bad:
        response = await c.post("/v1/datasets", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["details"], response.text
    assert (
        await c.post("/v1/datasets", json={"dataset_name": "same", "dataset_type_name": "table"})
    ).status_code == 201
    dup = await c.post("/v1/datasets", json={"dataset_name": "same", "dataset_type": 400})
    assert dup.status_code == 409 and dup.json()["error_code"] == "ModelArts.4351"


async def test_text_and_sound_uploads(harness, files) -> None:
    h = harness
    text = await h.create("txtup", 100, None)
    ok = await h.client.post(
        f"/v1/datasets/{text['dataset_id']}/samples",
        files=[
            ("files", ("t.txt", "好评\nbad one\n".encode(), "text/plain")),
            ("files", ("t_result.txt", "正面\nneg\n".encode(), "text/plain")),
        ],
    )
    assert ok.status_code == 201, ok.text
    assert [(s["text"], s["labels"]) for s in ok.json()["samples"]] == [
        ("好评", ["正面"]),
        ("bad one", ["neg"]),
    ]
    gbk = await h.client.post(
        f"/v1/datasets/{text['dataset_id']}/samples",
        files=[("files", ("g.txt", "中文".encode("gbk"), "text/plain"))],
    )
    assert gbk.status_code == 400 and gbk.json()["details"][0] == {
        "rule": "text_encoding",
        "msg": gbk.json()["details"][0]["msg"],
        "file": "g.txt",
    }
    sound = await h.create("sndup", 200, None)
    url = f"/v1/datasets/{sound['dataset_id']}/samples"
    assert (
        await h.client.post(url, files=[("files", ("s.wav", files.wav(1.5), "audio/wav"))])
    ).status_code == 201
    short = await h.client.post(url, files=[("files", ("short.wav", files.wav(0.5), "audio/wav"))])
    assert short.status_code == 400 and short.json()["details"][0]["rule"] == "audio_duration"


async def test_control_characters_and_odd_ids_are_refused_before_the_database(harness) -> None:
    """Ids are letters, digits, '-', '_'; free text has no control characters; offsets are bounded: all 400."""
    c = harness.client
    ds = await harness.create("ctrl", 0, None)
    base = f"/v1/datasets/{ds['dataset_id']}"
    for path in (
        "/v1/datasets/a%00b",
        f"{base}/samples/%0E%7Fx",
        f"{base}/samples/d%C3%A6/content",
        f"{base}/versions/W%1A",
        f"{base}/import-tasks/t%00",
    ):
        response = await c.get(path)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["details"][0]["rule"] == "string_pattern_mismatch", response.text
    assert (await c.post(f"{base}/versions/v%0C/check")).status_code == 400
    assert (await c.delete(f"{base}/versions/v%00")).status_code == 400
    for body in (
        {"dataset_name": "x", "dataset_type": 0, "description": "a\x00b"},
        {"dataset_name": "x", "dataset_type": 0, "label_column": "a\nb"},
        {"dataset_name": "x", "dataset_type": False},
    ):
        assert (await c.post("/v1/datasets", json=body)).status_code == 400, body
    assert (await c.post(f"{base}/samples/delete", json={"samples": ["a\x00"]})).status_code == 400
    assert (await c.post(f"{base}/versions", json={"description": "\x07"})).status_code == 400
    assert (await c.get("/v1/datasets", params={"search_content": "a\x00"})).status_code == 400
    assert (await c.get(f"{base}/samples", params={"search": "\x1f"})).status_code == 400
    assert (await c.get(f"{base}/import-tasks", params={"offset": 2**64 - 1})).status_code == 400
    assert (await c.get(f"{base}/samples/{'0' * 32}")).status_code == 404
