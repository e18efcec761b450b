"""Reading a table version for training: CSV files, feature typing, the problem, the splits.

Every cell is read as text and typed here, with the same rules (:mod:`shared.packages.table`) the
predictor applies to request values, so training and serving never disagree on a value.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shared.packages.table import TableSchema, category_key, parse_number
from trainer.engines.base import DataError, TableData

__all__ = ["DataError", "Frame", "TableSplits", "build_schema", "infer_problem", "read_table", "split_frame"]

MAX_CATEGORIES = 1000
CONTINUOUS_DISTINCT = 25  # dataset/publish_table.py uses the same threshold


@dataclass
class Frame:
    """Rows of a table, column-wise, as text cells (``None`` = missing)."""

    columns: dict[str, list[Any]]
    n_rows: int

    def take(self, index: np.ndarray | list[int]) -> Frame:
        return Frame({k: [v[i] for i in index] for k, v in self.columns.items()}, len(index))


@dataclass
class TableSplits:
    schema: TableSchema
    train: Frame
    eval: Frame
    y_train: np.ndarray  # class indices (classification) or floats (regression)
    y_eval: np.ndarray
    eval_labels: list[str | None]  # the eval label cells as category keys (classification)


def read_table(path: Path, names: list[str] | None) -> Frame:
    """Read a CSV with or without a header row: with ``names`` (the version schema) a first row equal to
    the names is a header; without ``names`` the first row must be the header."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, skipinitialspace=True)
    if raw.empty:
        return Frame({name: [] for name in names or []}, 0)
    first = [str(v).strip() for v in raw.iloc[0].tolist()]
    if names is None or first == [n.strip() for n in names]:
        names, raw = first, raw.iloc[1:]
    if raw.shape[1] != len(names):
        raise DataError(f"{path.name}: {raw.shape[1]} columns, the version schema names {len(names)}")
    columns = {name: raw.iloc[:, i].tolist() for i, name in enumerate(names)}
    return Frame(columns, len(raw))


def infer_problem(values: list[Any], declared_type: str | None) -> str:
    """Discrete label -> classification; continuous -> regression: a numeric label with fewer than 25
    distinct values is discrete (the dataset service's rule, so its version statistics agree)."""
    if declared_type in ("string", "bool"):
        return "classification"
    try:
        numbers = [parse_number(v) for v in values]
    except ValueError:
        return "classification"
    distinct = {x for x in numbers if not math.isnan(x)}
    return "classification" if len(distinct) < CONTINUOUS_DISTINCT else "regression"


def _column_type(values: list[Any], declared: str | None, n_rows: int) -> dict[str, Any]:
    present = [v for v in values if category_key(v) is not None]
    if not present:
        return {"type": "ignored", "reason": "all values missing"}
    if declared not in ("string", "bool"):
        try:
            [parse_number(v) for v in present]
            return {"type": "numeric"}
        except ValueError:
            pass
    counts = Counter(category_key(v) for v in present)
    if len(counts) > max(50, n_rows // 2):
        return {"type": "ignored", "reason": f"{len(counts)} distinct values: an identifier or free text"}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
    return {"type": "categorical", "categories": [name for name, _ in ranked]}


def _sorted_labels(keys: set[str]) -> list[str]:
    try:
        return sorted(keys, key=float)
    except ValueError:
        return sorted(keys)


def build_schema(
    frame: Frame, table: TableData, problem_override: str | None, previous: TableSchema | None = None
) -> TableSchema:
    """Type every feature column and choose the problem; an incremental run keeps the previous schema."""
    label = table.label_column
    if label not in frame.columns:
        raise DataError(f"label column {label!r} is not in the table ({', '.join(frame.columns)})")
    declared = {c.get("name"): c.get("type") for c in table.schema or []}
    if previous is not None:
        return previous
    problem = problem_override or infer_problem(frame.columns[label], declared.get(label))
    columns = [
        {"name": name, **_column_type(values, declared.get(name), frame.n_rows)}
        for name, values in frame.columns.items()
        if name != label
    ]
    if not any(c["type"] != "ignored" for c in columns):
        raise DataError("no usable feature column (all are empty, identifiers or free text)")
    labels: list[str] = []
    if problem == "classification":
        labels = _sorted_labels({k for v in frame.columns[label] if (k := category_key(v)) is not None})
        if len(labels) < 2:
            raise DataError(f"label column {label!r} has {len(labels)} distinct value(s); 2 are needed")
    return TableSchema(columns, label, problem, labels)


def encode_labels(schema: TableSchema, values: list[Any]) -> tuple[np.ndarray, list[str | None]]:
    """Targets: class indices (-1 = unknown class) or floats; plus the label cells as category keys."""
    keys = [category_key(v) for v in values]
    if schema.problem == "regression":
        try:
            return np.array([parse_number(v) for v in values], dtype=np.float64), keys
        except ValueError as exc:
            raise DataError(
                f"regression needs a numeric label column {schema.label_column!r}: {exc}"
            ) from exc
    index = {name: i for i, name in enumerate(schema.labels)}
    return np.array([index.get(k, -1) if k is not None else -1 for k in keys], dtype=np.int64), keys


def labeled(frame: Frame, label: str) -> Frame:
    """The rows whose label is present (a row without a label cannot teach or test anything)."""
    keep = [i for i, v in enumerate(frame.columns[label]) if category_key(v) is not None]
    return frame if len(keep) == frame.n_rows else frame.take(keep)


def split_frame(
    frame: Frame, y: np.ndarray, ratio: float, stratify: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a train/validation split by ``ratio`` (stratified when every class has 2 rows)."""
    n = frame.n_rows
    n_train = min(max(round(n * ratio), 1), n - 1)
    strata = y if stratify and min(Counter(y.tolist()).values()) >= 2 else None
    try:
        a, b = train_test_split(np.arange(n), train_size=n_train, random_state=seed, stratify=strata)
    except ValueError:  # too few rows per class for the requested sizes
        a, b = train_test_split(np.arange(n), train_size=n_train, random_state=seed)
    return np.sort(a), np.sort(b)
