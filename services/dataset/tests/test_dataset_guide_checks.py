"""The guide's data rules at their default thresholds: 100 labeled images, two detection classes of 50 labeled
images, 100 distinct table records, 5 minutes of audio a sound class (a warning)."""

from __future__ import annotations

import pytest
from dataset.checks import GUIDE_THRESHOLDS, CheckThresholds, check_version
from dataset.config import Settings


def _stats(**counts: int) -> dict:
    return {
        "labels": {k: {"sample_count": v} for k, v in counts.items()},
        "total_sample_count": sum(counts.values()),
    }


def _rules(dataset_type: int, stats: dict, level: str = "error") -> set[str]:
    return {v.rule for v in check_version(dataset_type, stats, None) if v.level == level}


def test_the_settings_default_to_the_guide() -> None:
    assert Settings().check_thresholds == GUIDE_THRESHOLDS == CheckThresholds(100, 50, 100, 300.0)


def test_fewer_than_100_labeled_images_fail_the_check() -> None:
    assert _rules(0, _stats(a=50, b=49)) == {"min_labeled_samples"}
    assert _rules(0, _stats(a=50, b=50)) == set()
    violation = next(v for v in check_version(0, _stats(a=50, b=49), None) if v.level == "error")
    assert violation.count == 99 and "at least 100" in violation.msg


@pytest.mark.parametrize(
    ("counts", "errors"),
    [
        ({"car": 80}, {"min_classes"}),
        ({"car": 50, "bus": 49}, {"min_samples_per_class"}),
        ({"car": 50, "bus": 50}, set()),
    ],
)
def test_detection_needs_two_classes_of_50(counts: dict, errors: set) -> None:
    assert _rules(1, _stats(**counts)) == errors


def test_a_detection_class_under_50_is_named() -> None:
    (violation,) = check_version(1, _stats(car=50, bus=49), None)
    assert (violation.rule, violation.label, violation.count) == ("min_samples_per_class", "bus", 49)


def test_table_records_are_counted_distinct() -> None:
    col = {"type": "int", "timestamp": False, "missing": 0, "distinct": 5}
    stats = {
        "row_count": 150,
        "distinct_record_count": 99,
        "size_bytes": 10,
        "columns": dict.fromkeys("xyl", col),
    }
    (violation,) = check_version(400, stats, "l")
    assert (violation.rule, violation.level, violation.count) == ("min_rows", "error", 99)
    assert check_version(400, stats | {"distinct_record_count": 100}, "l") == []


def test_under_5_minutes_of_audio_a_class_is_a_warning() -> None:
    stats = _stats(bark=20, meow=20)
    stats["labels"]["bark"]["duration_seconds"] = 299.0
    stats["labels"]["meow"]["duration_seconds"] = 300.0
    violations = check_version(200, stats, None)
    assert [(v.rule, v.level, v.label) for v in violations] == [("few_seconds_per_class", "warning", "bark")]


def test_lowered_thresholds_are_honoured() -> None:
    demo = CheckThresholds(min_labeled_images=10, min_detection_samples_per_class=5)
    for dataset_type in (0, 1):
        errors = [v for v in check_version(dataset_type, _stats(a=5, b=5), None, demo) if v.level == "error"]
        assert errors == []


@pytest.mark.infra
async def test_99_labeled_images_fail_and_100_pass_through_the_api(harness, files) -> None:
    h = harness
    tree = {}
    for label in ("cat", "dog"):
        for i in range(50):
            tree[f"{label}_{i}.png"] = files.image(color=(5 * i, 100 if label == "cat" else 10, 50))
            tree[f"{label}_{i}.txt"] = f"{label}\n".encode()
    ds, task = await h.import_folder("hundred", 0, tree)
    assert task["annotated_sample_count"] == 100, task
    ds_id = ds["dataset_id"]
    v1 = await h.publish(ds_id)
    report = await h.check(ds_id, v1["version_id"])
    assert report["passed"] and not report["violations"], report

    one = (await h.samples(ds_id, limit=1))["items"][0]["sample_id"]
    deleted = await h.client.post(
        f"/v1/datasets/{ds_id}/samples/delete", json={"samples": [one], "delete_source": False}
    )
    assert deleted.status_code == 200, deleted.text
    v2 = await h.publish(ds_id)
    report = await h.check(ds_id, v2["version_id"])
    assert not report["passed"]
    assert [(v["rule"], v["level"], v["count"]) for v in report["violations"]] == [
        ("min_labeled_samples", "error", 99)
    ]


@pytest.mark.infra
async def test_a_table_of_duplicated_rows_fails_on_its_distinct_records(harness, files) -> None:
    h = harness
    header, *rows = files.table_csv(60).decode().splitlines()
    csv = "\n".join([header, *rows, *rows, *rows[:30]]) + "\n"  # 150 rows, 60 distinct records
    ds, task = await h.import_folder("dupes", 400, {"t.csv": csv.encode()})
    assert task["status"] == "COMPLETED", task
    version = await h.publish(ds["dataset_id"])
    assert version["total_sample_count"] == 150
    assert version["statistics"]["distinct_record_count"] == 60
    report = await h.check(ds["dataset_id"], version["version_id"])
    assert not report["passed"]
    assert [(v["rule"], v["count"]) for v in report["violations"]] == [("min_rows", 60)]


@pytest.mark.infra
async def test_short_sound_classes_warn_but_pass(harness, files) -> None:
    h = harness
    tree = {
        f"{label}/{label}{i}.wav": files.wav(1.5, freq=300 + 40 * i)
        for label in ("bark", "meow")
        for i in range(20)
    }
    ds, task = await h.import_folder("short", 200, tree)
    assert task["annotated_sample_count"] == 40, task
    version = await h.publish(ds["dataset_id"])
    assert {k: v["duration_seconds"] for k, v in version["statistics"]["labels"].items()} == {
        "bark": 30.0,
        "meow": 30.0,
    }
    report = await h.check(ds["dataset_id"], version["version_id"])
    assert report["passed"], report
    assert sorted((v["rule"], v["level"], v["label"], v["count"]) for v in report["violations"]) == [
        ("few_seconds_per_class", "warning", "bark", 30),
        ("few_seconds_per_class", "warning", "meow", 30),
    ]
