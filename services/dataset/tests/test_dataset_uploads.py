"""Uploads keep their valid files: 207 lists every rejected file with its rule, 201 when all are fine, and a
4xx naming every file when none is; warnings (files stored with a problem) stay apart from rejections."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _rules(problems: list[dict[str, Any]]) -> dict[str, str]:
    return {p["file"]: p["rule"] for p in problems}


async def _stored_files(h, ds_id: str) -> list[str]:
    stored = await h.store.list(h.bucket, f"datasets/{h.tenant_id}/{ds_id}/input/")
    return sorted(i.key.rsplit("/", 1)[-1] for i in stored)


async def test_mixed_detection_upload_stores_the_valid_files_and_lists_every_bad_one(harness, files) -> None:
    h = harness
    ds = await h.create("upmixed", 1, None)
    ds_id = ds["dataset_id"]
    response = await h.client.post(
        f"/v1/datasets/{ds_id}/samples",
        files=[
            ("files", ("ok1.png", files.image(), "image/png")),
            ("files", ("ok1.xml", files.voc([("car", 1, 1, 10, 10)], filename="ok1.png"), "application/xml")),
            ("files", ("ok2.png", files.image(), "image/png")),
            ("files", ("broken.png", files.truncated_png(), "image/png")),
            ("files", ("swapped.png", files.image(), "image/png")),
            ("files", ("swapped.xml", files.voc([("car", 1, 1, 9, 9)], filename="x.png"), "application/xml")),
            ("files", ("outside.png", files.image(), "image/png")),
            (
                "files",
                ("outside.xml", files.voc([("car", 1, 1, 90, 90)], filename="outside.png"), "text/xml"),
            ),
            ("files", ("a+b.png", files.image(), "image/png")),
            ("files", ("notes.md", b"# readme", "text/markdown")),
        ],
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["success"] is False
    assert {s["sample_name"] for s in body["samples"]} == {"ok1.png", "ok2.png", "outside.png"}
    assert {r["name"] for r in body["results"]} == {"ok1.png", "ok2.png", "outside.png"}
    assert _rules(body["rejected"]) == {
        "broken.png": "image_decode",
        "swapped.xml": "voc_filename_mismatch",
        "swapped.png": "pair_rejected",  # not stored: its VOC file belongs to another image
        "a+b.png": "file_name_characters",
        "notes.md": "file_type",
    }
    assert all(r["msg"] for r in body["rejected"])
    assert next(r for r in body["rejected"] if r["file"] == "swapped.xml")["field"] == "filename"
    # Stored, unlabeled: a warning, not a rejection, and its message says what happened.
    [warning] = body["warnings"]
    assert (warning["file"], warning["rule"]) == ("outside.xml", "voc_box_outside")
    assert "imported unlabeled" in warning["msg"]
    samples = {s["sample_name"]: s for s in (await h.samples(ds_id))["items"]}
    assert set(samples) == {"ok1.png", "ok2.png", "outside.png"}
    assert samples["ok1.png"]["labels"] == ["car"] and not samples["outside.png"]["labeled"]
    # Only the files of stored samples (and their companions) are in storage.
    assert await _stored_files(h, ds_id) == ["ok1.png", "ok1.xml", "ok2.png", "outside.png", "outside.xml"]


async def test_upload_with_no_valid_file_is_a_400_naming_every_file(harness, files) -> None:
    h = harness
    ds = await h.create("upallbad", 0, None)
    ds_id = ds["dataset_id"]
    response = await h.client.post(
        f"/v1/datasets/{ds_id}/samples",
        files=[
            ("files", ("broken.png", files.truncated_png(), "image/png")),
            ("files", ("fake.jpg", b"not an image", "image/jpeg")),
            ("files", ("long.png", files.image(), "image/png")),
            ("files", ("long.txt", ("y" * 33).encode(), "text/plain")),
            ("files", ("lonely.txt", b"cat\n", "text/plain")),
            ("files", ("with space.png", files.image(), "image/png")),
        ],
    )
    assert response.status_code == 400, response.text
    assert _rules(response.json()["details"]) == {
        "broken.png": "image_decode",
        "fake.jpg": "image_decode",
        "long.txt": "label_name_length",
        "long.png": "pair_rejected",
        "lonely.txt": "companion_without_sample",
        "with space.png": "file_name_characters",
    }
    assert (await h.samples(ds_id))["total"] == 0
    assert await _stored_files(h, ds_id) == []


async def test_upload_reports_existing_and_oversized_files_beside_stored_ones(harness, files) -> None:
    h = harness
    ds = await h.create("upexists", 0, None)
    url = f"/v1/datasets/{ds['dataset_id']}/samples"
    first = await h.client.post(url, files=[("files", ("a.png", files.image(), "image/png"))])
    assert first.status_code == 201 and first.json()["rejected"] == [] and first.json()["success"] is True
    again = await h.client.post(
        url,
        files=[
            ("files", ("a.png", files.image(), "image/png")),
            ("files", ("b.png", files.image(), "image/png")),
            ("files", ("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1), "image/jpeg")),
        ],
    )
    assert again.status_code == 207, again.text
    assert [s["sample_name"] for s in again.json()["samples"]] == ["b.png"]
    assert _rules(again.json()["rejected"]) == {"a.png": "sample_exists", "big.jpg": "file_too_large"}
    assert (await h.samples(ds["dataset_id"]))["total"] == 2


async def test_text_upload_of_several_files_keeps_the_good_ones(harness) -> None:
    h = harness
    ds = await h.create("uptext", 100, None)
    response = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/samples",
        files=[
            ("files", ("t.txt", b"great\nawful\n", "text/plain")),
            ("files", ("t_result.txt", b"pos\nneg\n", "text/plain")),
            ("files", ("g.txt", "\u4e2d\u6587".encode("gbk"), "text/plain")),
            ("files", ("u.txt", b"one\ntwo\n", "text/plain")),
            ("files", ("u_result.txt", b"pos\nneg\npos\n", "text/plain")),
        ],
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert [(s["text"], s["labels"]) for s in body["samples"]] == [("great", ["pos"]), ("awful", ["neg"])]
    assert _rules(body["rejected"]) == {
        "g.txt": "text_encoding",
        "u_result.txt": "result_lines",
        "u.txt": "pair_rejected",
    }
    assert await _stored_files(h, ds["dataset_id"]) == ["t.txt", "t_result.txt"]


async def test_table_upload_of_several_parts_keeps_the_parts_that_fit(harness, files) -> None:
    h = harness
    ds = await h.create("uptable", 400, None)
    response = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/samples",
        files=[
            ("files", ("a.csv", files.table_csv(120), "text/csv")),
            ("files", ("b.csv", files.table_csv(50, timestamp=True), "text/csv")),
            ("files", ("c.csv", files.table_csv(30), "text/csv")),
        ],
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert [s["sample_name"] for s in body["samples"]] == ["a.csv", "c.csv"]
    assert _rules(body["rejected"]) == {"b.csv": "table_schema"}
    assert body["warnings"] == []  # 150 rows in the stored parts: the rejected part's rows do not count
    assert (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()["row_count"] == 150


async def test_sound_upload_of_several_files_keeps_the_good_ones(harness, files) -> None:
    h = harness
    ds = await h.create("upsound", 200, None)
    response = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/samples",
        files=[
            ("files", ("bark/b0.wav", files.wav(1.2), "audio/wav")),
            ("files", ("bark/short.wav", files.wav(0.5), "audio/wav")),
            ("files", ("bark/eight.wav", files.pcm8_wav(), "audio/wav")),
        ],
    )
    assert response.status_code == 207, response.text
    assert [(s["sample_name"], s["labels"]) for s in response.json()["samples"]] == [
        ("bark/b0.wav", ["bark"])
    ]
    assert _rules(response.json()["rejected"]) == {
        "bark/eight.wav": "audio_bit_depth",
        "bark/short.wav": "audio_duration",
    }
