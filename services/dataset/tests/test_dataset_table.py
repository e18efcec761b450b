"""Tables: CSV files with or without a header imported, published as frozen train/eval CSV files, checked."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from shared.manifest import parse_lines

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("header", [True, False])
async def test_table_import_publish_check(harness, files, header: bool) -> None:
    h = harness
    parts = {  # 130 distinct records (the check counts distinct records)
        "part1.csv": files.table_csv(70, header=header),
        "part2.csv": files.table_csv(60, header=header, first=70),
    }
    ds, task = await h.import_folder(f"table{int(header)}", 400, parts, with_column_header=header)
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 2, task
    detail = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()
    names = [c["name"] for c in detail["table_schema"]]
    label = "label" if header else "attr_4"
    assert names == (
        ["age", "income", "city", "label"] if header else ["attr_1", "attr_2", "attr_3", "attr_4"]
    )
    assert detail["label_column"] == label and detail["row_count"] == 130
    assert [c["type"] for c in detail["table_schema"]] == ["int", "float", "string", "string"]

    version = await h.publish(ds["dataset_id"])
    assert version["total_sample_count"] == 130
    # The version records the source files' header flag (its frozen train/eval files always have a header).
    assert version["statistics"]["csv_header"] is header
    assert (
        version["train_sample_count"] == 104 and version["eval_sample_count"] == 26
    )  # 65 yes/65 no → 52+13 each
    lines = list(parse_lines((await h.store.get(version["manifest_path"])).decode()))
    assert [(line.source.rsplit("/", 1)[-1], line.usage, line.sample_type) for line in lines] == [
        ("train.csv", "TRAIN", 4),
        ("eval.csv", "EVAL", 4),
    ]
    train = pd.read_csv(io.BytesIO(await h.store.get(lines[0].source)))
    evaluation = pd.read_csv(io.BytesIO(await h.store.get(lines[1].source)))
    assert len(train) == 104 and len(evaluation) == 26 and list(train.columns) == names
    assert train[label].value_counts().to_dict() == {"yes": 52, "no": 52}  # stratified
    event = (await h.outbox_events("dataset.version.published.v1"))[-1]["data"]
    assert event["label_column"] == label and event["labels"] == ["no", "yes"]
    assert [c["name"] for c in event["table_schema"]] == names and event["manifest_uri"] == version[
        "manifest_path"
    ]

    report = await h.check(ds["dataset_id"], version["version_id"])
    assert report["passed"], report


async def test_table_check_fails_on_timestamp_and_one_value_label(harness, files) -> None:
    h = harness
    ds, task = await h.import_folder(
        "tablebad", 400, {"t.csv": files.table_csv(150, label_values=("same",), timestamp=True)}
    )
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 1
    version = await h.publish(ds["dataset_id"])
    report = await h.check(ds["dataset_id"], version["version_id"])
    assert not report["passed"]
    found = {(v["rule"], v.get("column")) for v in report["violations"]}
    assert ("timestamp_column", "seen_at") in found and ("label_values", "label") in found, found
    # Nothing stored changed: the dataset still has its one file and its schema.
    detail = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()
    assert detail["sample_count"] == 1 and detail["row_count"] == 150


async def test_table_small_fails_check(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("tablesmall", 400, {"t.csv": files.table_csv(40)})
    version = await h.publish(ds["dataset_id"])
    report = await h.check(ds["dataset_id"], version["version_id"])
    assert not report["passed"] and any(
        v["rule"] == "min_rows" and v["count"] == 40 for v in report["violations"]
    )


async def test_label_column_change_makes_a_regression_table(harness, files) -> None:
    h = harness
    ds, _ = await h.import_folder("tblreg", 400, {"t.csv": files.table_csv(120)})
    url = f"/v1/datasets/{ds['dataset_id']}"
    bad = await h.client.put(url, json={"label_column": "nope"})
    assert bad.status_code == 400 and bad.json()["details"][0]["rule"] == "label_column"
    changed = await h.client.put(
        url, json={"label_column": "income", "description": "incomes", "dataset_name": "tblreg2"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["label_column"], changed.json()["dataset_name"]) == ("income", "tblreg2")
    assert (await h.client.put(url, json={"description": "a<b"})).status_code == 400
    version = await h.publish(ds["dataset_id"])
    assert version["label_column"] == "income" and version["labels"] == []
    assert version["statistics"]["task"] == "regression" and version["train_sample_count"] == 96


async def test_upload_csv_parts_must_share_the_schema(harness, files) -> None:
    h = harness
    ds = await h.create("tblup", 400, None)
    url = f"/v1/datasets/{ds['dataset_id']}/samples"
    first = await h.client.post(url, files=[("files", ("a.csv", files.table_csv(50), "text/csv"))])
    assert first.status_code == 201, first.text
    assert (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()["label_column"] == "label"
    other = await h.client.post(
        url, files=[("files", ("b.csv", files.table_csv(50, timestamp=True), "text/csv"))]
    )
    assert other.status_code == 400 and other.json()["details"][0]["rule"] == "table_schema"
    same = await h.client.post(url, files=[("files", ("c.csv", files.table_csv(60), "text/csv"))])
    assert same.status_code == 201
    assert (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()["row_count"] == 110


# ------------------------------------------------------------- the check's table rules, on arrival


def _reported(problems: list[dict]) -> set[tuple[str, str, str | None]]:
    return {(p["file"], p["rule"], p.get("column")) for p in problems}


async def test_upload_reports_timestamp_and_one_value_label_per_file(harness, files) -> None:
    h = harness
    ds = await h.create("tblwarn", 400, None)
    url = f"/v1/datasets/{ds['dataset_id']}/samples"
    bad = files.table_csv(150, label_values=("same",), timestamp=True)
    response = await h.client.post(url, files=[("files", ("t.csv", bad, "text/csv"))])
    # Accepted (another part may bring other labels; the check stays the gate), but reported now.
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert _reported(warnings) == {
        ("t.csv", "timestamp_column", "seen_at"),
        ("t.csv", "label_values", "label"),
    }
    assert all(w["msg"] for w in warnings)
    fine = await h.client.post(
        url, files=[("files", ("u.csv", files.table_csv(150, timestamp=True), "text/csv"))]
    )
    assert fine.status_code == 201 and _reported(fine.json()["warnings"]) == {
        ("u.csv", "timestamp_column", "seen_at")
    }


async def test_upload_of_a_small_table_reports_its_rows_so_far(harness, files) -> None:
    h = harness
    ds = await h.create("tblfew", 400, None)
    url = f"/v1/datasets/{ds['dataset_id']}/samples"
    first = await h.client.post(url, files=[("files", ("a.csv", files.table_csv(50), "text/csv"))])
    assert first.status_code == 201, first.text
    [warning] = first.json()["warnings"]
    assert (warning["file"], warning["rule"], warning.get("column")) == ("a.csv", "min_rows", None)
    assert "50 rows" in warning["msg"] and "100" in warning["msg"]
    # The rule holds for the dataset's table: a second part that brings it to 110 rows is fine.
    second = await h.client.post(url, files=[("files", ("b.csv", files.table_csv(60), "text/csv"))])
    assert second.status_code == 201 and second.json()["warnings"] == []


async def test_import_reports_small_table_timestamp_and_one_value_label(harness, files) -> None:
    h = harness
    parts = {
        "a.csv": files.table_csv(30, label_values=("same",), timestamp=True),
        "b.csv": files.table_csv(20, timestamp=True),
    }
    _, task = await h.import_folder("tblimpwarn", 400, parts)
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 2, task
    assert task["failed_sample_count"] == 0 and task["errors"] == [], task
    assert _reported(task["warnings"]) == {
        ("a.csv", "timestamp_column", "seen_at"),
        ("a.csv", "label_values", "label"),
        ("b.csv", "timestamp_column", "seen_at"),
        ("b.csv", "min_rows", None),  # once, for the table the task leaves: 50 rows
    }
    rows = next(w for w in task["warnings"] if w["rule"] == "min_rows")
    assert "50 rows" in rows["msg"]


async def test_import_of_parts_that_make_a_large_enough_table_reports_nothing(harness, files) -> None:
    h = harness
    parts = {"part1.csv": files.table_csv(70), "part2.csv": files.table_csv(60)}
    _, task = await h.import_folder("tblimpok", 400, parts)
    assert task["status"] == "COMPLETED" and task["warnings"] == [] and task["errors"] == [], task
