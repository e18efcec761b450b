"""Check data: the seeds' per-type rules evaluated on a published version's statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.events.dataset import CheckViolation

__all__ = ["GUIDE_THRESHOLDS", "CheckThresholds", "check_table_part", "check_table_rows", "check_version"]


@dataclass(frozen=True)
class CheckThresholds:
    """The numbers of the guide's data rules. The defaults are the guide's; an operator may lower them (the
    dataset service's ``check_*`` settings), e.g. for a demo on a few dozen images."""

    # Image classification: "The number of labeled images in the dataset must be no fewer than 100.
    # Otherwise, checking the dataset will fail."
    min_labeled_images: int = 100
    # Object detection: "At least two classes of samples are required for training, and each class with at
    # least 50 samples."
    min_detection_samples_per_class: int = 50
    # Tables: "at least 100 different data records (a feature with different values is considered as
    # different data)".
    min_table_records: int = 100
    # Sound: "Ensure that the total duration of each class is no shorter than 5 minutes" (advice to improve
    # precision: a warning, not a failure).
    min_sound_seconds_per_class: float = 300.0


GUIDE_THRESHOLDS = CheckThresholds()

# (min classes, min per class [error], warn under per class); detection's per-class minimum is a threshold.
_CLASS_RULES: dict[int, tuple[int, int, int | None]] = {
    0: (2, 5, 20),
    1: (2, 5, None),
    200: (2, 5, 20),
    100: (2, 20, None),
}


def check_version(
    dataset_type: int,
    statistics: dict[str, Any],
    label_column: str | None,
    thresholds: CheckThresholds = GUIDE_THRESHOLDS,
) -> list[CheckViolation]:
    if dataset_type == 400:
        return _table(statistics, label_column, thresholds)
    out = _classes(dataset_type, statistics, thresholds)
    if dataset_type == 0:
        out += _min_labeled(statistics, thresholds.min_labeled_images)
    if dataset_type == 200:
        out += _short_sound(statistics, thresholds.min_sound_seconds_per_class)
    return out


def _classes(dataset_type: int, stats: dict[str, Any], thresholds: CheckThresholds) -> list[CheckViolation]:
    min_classes, min_per_class, warn_per_class = _CLASS_RULES[dataset_type]
    if dataset_type == 1:
        min_per_class = thresholds.min_detection_samples_per_class
    per_label = {name: int(v["sample_count"]) for name, v in stats.get("labels", {}).items()}
    out: list[CheckViolation] = []
    if len(per_label) < min_classes:
        out.append(
            _error(
                "min_classes",
                f"{len(per_label)} labels have samples; at least {min_classes} are needed",
                count=len(per_label),
            )
        )
    for name, count in sorted(per_label.items()):
        if count < min_per_class:
            out.append(
                _error(
                    "min_samples_per_class",
                    f"label {name} has {count} samples; at least {min_per_class} are needed",
                    label=name,
                    count=count,
                )
            )
        elif warn_per_class and count < warn_per_class:
            out.append(
                CheckViolation(
                    rule="few_samples_per_class",
                    level="warning",
                    label=name,
                    count=count,
                    msg=f"label {name} has {count} samples; {warn_per_class} or more give better models",
                )
            )
    multi = int(stats.get("multi_label_count", 0))
    if dataset_type == 100 and multi:
        out.append(
            _error(
                "one_label_per_text",
                f"{multi} text objects have more than one label; each must have exactly one",
                count=multi,
            )
        )
    return out


def _min_labeled(stats: dict[str, Any], minimum: int) -> list[CheckViolation]:
    labeled = int(stats.get("total_sample_count", 0))
    if labeled >= minimum:
        return []
    msg = f"{labeled} labeled images; the dataset must have at least {minimum}"
    return [_error("min_labeled_samples", msg, count=labeled)]


def _short_sound(stats: dict[str, Any], minimum: float) -> list[CheckViolation]:
    """Classes under ``minimum`` seconds of audio. A class with a clip of unknown length (imported before
    durations were recorded) is not judged."""
    out = []
    for name, entry in sorted(stats.get("labels", {}).items()):
        seconds = entry.get("duration_seconds")
        if seconds is not None and seconds < minimum:
            out.append(
                CheckViolation(
                    rule="few_seconds_per_class",
                    level="warning",
                    label=name,
                    count=round(seconds),
                    msg=f"label {name} has {seconds:.0f} s of audio; "
                    f"{minimum:.0f} s ({minimum / 60:g} minutes) or more give better models",
                )
            )
    return out


def check_table_rows(rows: int, minimum: int = GUIDE_THRESHOLDS.min_table_records) -> list[CheckViolation]:
    """The row rule on a table still arriving: its parts' rows so far (the version check, on distinct
    records, stays the gate)."""
    if rows >= minimum:
        return []
    return [
        _error("min_rows", f"the table so far has {rows} rows; at least {minimum} are needed", count=rows)
    ]


def check_table_part(columns: dict[str, Any], label_column: str | None) -> list[CheckViolation]:
    """The rules one CSV part already breaks: a timestamp column, a label column of one value.

    ``columns`` are the part's column statistics (:func:`dataset.table.column_stats`).
    """
    label = columns.get(label_column or "")
    values = _label_values(label_column, label, " in this file") if label is not None else []
    return values + _timestamp_columns(columns)


def _error(rule: str, msg: str, **kw: Any) -> CheckViolation:
    return CheckViolation(rule=rule, level="error", msg=msg, **kw)


def _min_records(stats: dict[str, Any], minimum: int) -> list[CheckViolation]:
    """Distinct records, not rows: rows equal in every feature count once (versions published before the
    distinct count was recorded: their rows)."""
    rows = int(stats.get("row_count", 0))
    records = int(stats.get("distinct_record_count", rows))
    if records >= minimum:
        return []
    msg = f"the table has {records} distinct records ({rows} rows); at least {minimum} are needed"
    return [_error("min_rows", msg, count=records)]


def _label_values(column: str | None, label: dict[str, Any], where: str = "") -> list[CheckViolation]:
    if label["distinct"] >= 2:
        return []
    msg = f"the label column {column} has {label['distinct']} distinct value(s){where}; at least 2 are needed"
    return [_error("label_values", msg, column=column, count=label["distinct"])]


def _timestamp_columns(columns: dict[str, Any]) -> list[CheckViolation]:
    return [
        _error("timestamp_column", f"column {name} holds timestamps; remove it", column=name)
        for name, col in columns.items()
        if col.get("timestamp")
    ]


def _table(
    stats: dict[str, Any], label_column: str | None, thresholds: CheckThresholds
) -> list[CheckViolation]:
    out: list[CheckViolation] = []
    rows, columns = int(stats.get("row_count", 0)), stats.get("columns", {})

    def err(rule: str, msg: str, **kw: Any) -> None:
        out.append(_error(rule, msg, **kw))

    out += _min_records(stats, thresholds.min_table_records)
    if len(columns) >= 200:
        err(
            "max_columns",
            f"the table has {len(columns)} columns; it must have fewer than 200",
            count=len(columns),
        )
    if int(stats.get("size_bytes", 0)) > 100 * 1024 * 1024:
        err("max_size", "the table is larger than 100 MB", count=int(stats["size_bytes"]))
    label = columns.get(label_column or "")
    if label is None:
        err("label_column", f"label column {label_column!r} does not exist", column=label_column)
    else:
        if label["missing"]:
            err(
                "label_missing",
                f"{label['missing']} rows have no label",
                column=label_column,
                count=label["missing"],
            )
        out += _label_values(label_column, label)
    out += _timestamp_columns(columns)
    valid = [
        n
        for n, c in columns.items()
        if n != label_column
        and not c.get("timestamp")
        and c["distinct"] >= 2
        and c["missing"] < 0.1 * max(rows, 1)
    ]
    if len(valid) < 2:
        err(
            "valid_feature_columns",
            f"{len(valid)} valid feature columns (≥ 2 distinct values, < 10 % missing); "
            "at least 2 are needed",
            count=len(valid),
        )
    return out
