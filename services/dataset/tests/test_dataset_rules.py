"""Pure rules: stratified split, check rules per type, VOC round trip, timestamp detection, ratio format."""

from __future__ import annotations

import pandas as pd
import pytest
from dataset.checks import check_version
from dataset.schemas import VersionCreate
from dataset.split import rarest, stratified_split
from dataset.table import is_timestamp
from dataset.validation import Rejected
from dataset.versions import next_version_name
from dataset.voc import boxes_inverted, boxes_outside, parse_voc, write_voc
from pydantic import ValidationError


def test_stratified_split_counts_per_class() -> None:
    strata = ["a"] * 10 + ["b"] * 5 + ["c"] * 2 + ["d"]
    train = stratified_split(strata, 0.8, "seed")
    per = {s: sum(t for t, x in zip(train, strata) if x == s) for s in "abcd"}
    assert per == {"a": 8, "b": 4, "c": 1, "d": 1}
    assert stratified_split(strata, 0.8, "seed") == train  # reproducible for one version
    assert stratified_split(strata, 0.8, "other") != train  # random across versions
    assert all(stratified_split(strata, 1.0, "s")) and not any(stratified_split(strata, 0.0, "s"))


def test_rarest_label_is_the_stratum() -> None:
    assert rarest([["a", "b"], ["a"], ["a"], []]) == ["b", "a", "a", ""]


def _stats(**counts: int) -> dict:
    return {
        "labels": {k: {"sample_count": v} for k, v in counts.items()},
        "total_sample_count": sum(counts.values()),
    }


@pytest.mark.parametrize(
    ("dataset_type", "counts", "errors"),
    [
        (0, {"a": 5, "b": 95}, set()),
        (0, {"a": 5, "b": 5}, {"min_labeled_samples"}),  # the guide: no fewer than 100 labeled images
        (0, {"a": 100}, {"min_classes"}),
        (0, {"a": 4, "b": 96}, {"min_samples_per_class"}),
        (1, {"a": 50, "b": 50}, set()),
        (1, {"a": 50}, {"min_classes"}),  # the guide: at least two classes of 50
        (1, {}, {"min_classes"}),
        (1, {"a": 4, "b": 50}, {"min_samples_per_class"}),
        (200, {"a": 5, "b": 5}, set()),
        (200, {"a": 5, "b": 4}, {"min_samples_per_class"}),
        (100, {"a": 20, "b": 20}, set()),
        (100, {"a": 19, "b": 20}, {"min_samples_per_class"}),
    ],
)
def test_class_rules(dataset_type: int, counts: dict, errors: set) -> None:
    found = {v.rule for v in check_version(dataset_type, _stats(**counts), None) if v.level == "error"}
    assert found == errors


def test_image_classification_warnings() -> None:
    violations = check_version(0, _stats(a=6, b=6), None)
    assert {v.rule for v in violations if v.level == "warning"} == {"few_samples_per_class"}
    # Fewer than 100 labeled images were a warning; the guide makes them fail the check.
    assert {v.rule for v in violations if v.level == "error"} == {"min_labeled_samples"}


def test_table_rules() -> None:
    col = {"type": "int", "timestamp": False, "missing": 0, "distinct": 5}
    stats = {"row_count": 150, "size_bytes": 10, "columns": {"x": col, "y": col, "label": col}}
    assert check_version(400, stats, "label") == []
    stats["columns"] = {f"c{i}": col for i in range(250)} | {"label": col | {"distinct": 1, "missing": 3}}
    stats["columns"]["c0"] = col | {"timestamp": True}
    rules = {v.rule for v in check_version(400, stats, "label")}
    assert rules == {"max_columns", "label_missing", "label_values", "timestamp_column"}
    stats = {
        "row_count": 150,
        "size_bytes": 10,
        "columns": {"x": col | {"distinct": 1}, "y": col | {"missing": 20}, "label": col},
    }
    assert {v.rule for v in check_version(400, stats, "label")} == {"valid_feature_columns"}


def test_voc_round_trip_and_errors() -> None:
    objects = [
        {
            "name": "car",
            "bndbox": {"xmin": 1.0, "ymin": 2.0, "xmax": 10.0, "ymax": 12.0},
            "pose": "Left",
            "truncated": 1,
            "occluded": 0,
            "difficult": 1,
        }
    ]
    xml = write_voc("a.jpg", "folder", {"width": 20, "height": 20, "depth": 3}, objects)
    assert parse_voc(xml) == objects
    assert boxes_outside(objects, 20, 20) == [] and boxes_outside(objects, 9, 20) == ["car"]
    for bad, rule in (
        (b"<annotation><object>", "voc_xml"),
        (b"<other/>", "voc_xml"),
        (b"<annotation><object><name>a</name></object></annotation>", "voc_shape"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><annotation>&a;</annotation>', "voc_xml"),
    ):
        with pytest.raises(Rejected) as info:
            parse_voc(bad)
        assert info.value.rule == rule


@pytest.mark.parametrize(
    ("declared", "image", "matches"),
    [
        ("a.jpg", "sub/a.jpg", True),
        ("A.JPG", "a.jpg", True),
        ("VOC2007/JPEGImages/a.jpg", "a.jpg", True),
        ("C:\\data\\a.jpg", "a.jpg", True),
        ("a", "a.jpg", True),  # written without its extension
        ("a.v2", "a.v2.png", True),
        ("a.jpg", "a.png", True),  # the same image, converted
        ("", "a.jpg", True),
        ("b.jpg", "a.jpg", False),
        ("a.jpg", "sub/b.jpg", False),
        ("ab.jpg", "a.jpg", False),
    ],
)
def test_voc_filename_must_name_its_image(declared: str, image: str, matches: bool) -> None:
    xml = write_voc(declared, "folder", {"width": 20, "height": 20, "depth": 3}, [])
    if matches:
        assert parse_voc(xml, image=image) == []
        return
    with pytest.raises(Rejected) as info:
        parse_voc(xml, image=image)
    assert (info.value.rule, info.value.field) == ("voc_filename_mismatch", "filename")
    assert parse_voc(xml) == []  # without an image to compare with (a published version's manifest)


def test_inverted_boxes_have_their_own_rule() -> None:
    def obj(name: str, xmin: float, ymin: float, xmax: float, ymax: float) -> dict:
        return {"name": name, "bndbox": {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}}

    objects = [
        obj("ok", 1, 1, 5, 5),
        obj("swapped", 9, 1, 2, 5),
        obj("flat", 1, 4, 5, 4),
        obj("out", 1, 1, 30, 5),
    ]
    assert boxes_inverted(objects) == ["swapped", "flat"]
    assert boxes_outside(objects, 20, 20) == ["out"]


def test_timestamp_detection() -> None:
    assert is_timestamp(pd.Series(["2024-01-01 10:00:00", "2024-02-03 11:00:00"]))
    assert is_timestamp(pd.Series(["2024/01/01", "2024/01/02"]))
    assert not is_timestamp(pd.Series(["paris", "rome"]))
    assert not is_timestamp(pd.Series([1, 2, 3]))


@pytest.mark.parametrize("ratio", ["0.8", 0.8, "1", "0", "0.12345", 1, "1.00"])
def test_ratio_accepted(ratio) -> None:
    VersionCreate(train_evaluate_sample_ratio=ratio)


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "0.123456", "abc", 2])
def test_ratio_refused(ratio) -> None:
    with pytest.raises(ValidationError):
        VersionCreate(train_evaluate_sample_ratio=ratio)


def test_version_names() -> None:
    assert next_version_name([]) == "V001"
    assert next_version_name(["V001", "mine", "V009"]) == "V010"
