"""Check data: the seeds' per-type rules evaluated on a published version's statistics."""

from __future__ import annotations

from typing import Any

from shared.events.dataset import CheckViolation

__all__ = ["MIN_ROWS", "check_table_part", "check_table_rows", "check_version"]

MIN_ROWS = 100  # seed: "at least 100 data records"

# (min classes, min per class [error], warn under per class, warn under total labeled)
_CLASS_RULES = {
    0: (2, 5, 20, 100),
    1: (1, 5, 50, None),
    200: (2, 5, 20, None),
    100: (2, 20, None, None),
}


def check_version(
    dataset_type: int, statistics: dict[str, Any], label_column: str | None
) -> list[CheckViolation]:
    if dataset_type == 400:
        return _table(statistics, label_column)
    return _classes(dataset_type, statistics)


def _classes(dataset_type: int, stats: dict[str, Any]) -> list[CheckViolation]:
    min_classes, min_per_class, warn_per_class, warn_total = _CLASS_RULES[dataset_type]
    per_label = {name: int(v["sample_count"]) for name, v in stats.get("labels", {}).items()}
    out: list[CheckViolation] = []
    if len(per_label) < min_classes:
        out.append(
            CheckViolation(
                rule="min_classes",
                level="error",
                count=len(per_label),
                msg=f"{len(per_label)} labels have samples; at least {min_classes} are needed",
            )
        )
    for name, count in sorted(per_label.items()):
        if count < min_per_class:
            out.append(
                CheckViolation(
                    rule="min_samples_per_class",
                    level="error",
                    label=name,
                    count=count,
                    msg=f"label {name} has {count} samples; at least {min_per_class} are needed",
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
    labeled = int(stats.get("total_sample_count", 0))
    if warn_total and labeled < warn_total:
        out.append(
            CheckViolation(
                rule="few_labeled_samples",
                level="warning",
                count=labeled,
                msg=f"{labeled} labeled samples; {warn_total} or more give better models",
            )
        )
    multi = int(stats.get("multi_label_count", 0))
    if dataset_type == 100 and multi:
        out.append(
            CheckViolation(
                rule="one_label_per_text",
                level="error",
                count=multi,
                msg=f"{multi} text objects have more than one label; each must have exactly one",
            )
        )
    return out


def check_table_rows(rows: int) -> list[CheckViolation]:
    """The row rule on a table still arriving: its parts so far (the version check stays the gate)."""
    return _min_rows(rows, "the table so far")


def check_table_part(columns: dict[str, Any], label_column: str | None) -> list[CheckViolation]:
    """The rules one CSV part already breaks: a timestamp column, a label column of one value.

    ``columns`` are the part's column statistics (:func:`dataset.table.column_stats`).
    """
    label = columns.get(label_column or "")
    values = _label_values(label_column, label, " in this file") if label is not None else []
    return values + _timestamp_columns(columns)


def _error(rule: str, msg: str, **kw: Any) -> CheckViolation:
    return CheckViolation(rule=rule, level="error", msg=msg, **kw)


def _min_rows(rows: int, subject: str) -> list[CheckViolation]:
    if rows >= MIN_ROWS:
        return []
    return [_error("min_rows", f"{subject} has {rows} rows; at least {MIN_ROWS} are needed", count=rows)]


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


def _table(stats: dict[str, Any], label_column: str | None) -> list[CheckViolation]:
    out: list[CheckViolation] = []
    rows, columns = int(stats.get("row_count", 0)), stats.get("columns", {})

    def err(rule: str, msg: str, **kw: Any) -> None:
        out.append(_error(rule, msg, **kw))

    out += _min_rows(rows, "the table")
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
