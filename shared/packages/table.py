"""Predictive analytics (tables): the input schema, its encoding, and the LightGBM predictor.

The trainer encodes its training rows with :class:`TableSchema` and the predictor encodes request rows
with the same code, so a package answers exactly as it did when its validation metrics were computed.

``input_schema`` of the package manifest::

    {"label_column": "class", "problem": "classification" | "regression", "labels": ["no", "yes"],
     "columns": [{"name": "age", "type": "numeric"},
                 {"name": "job", "type": "categorical", "categories": ["admin", "blue-collar", ...]},
                 {"name": "id", "type": "ignored"}]}

Encoding: numeric values become floats; categorical values become the index of their category (LightGBM
categorical features); missing values (``null``, empty, ``NA``, ``?``…) and unseen categories become NaN,
which LightGBM routes as missing. ``ignored`` columns (free text, identifiers) are accepted and unused.

Request payload: a JSON array of row objects (``req_data``); a feature column left out of a row, or given as
``null``, is a missing value, exactly as an empty cell was in training; the label column may be present and
is ignored; any other key is an error (400 naming it).
Response: ``{"data": {"resp_data": [{"predict": "yes", "probabilities": {"no": 0.1, "yes": 0.9}}, ...]}}``
(regression: ``{"predict": 12.3}``).

Models: ``artifacts["model"]`` alone is one LightGBM booster (``model.lgb.txt``). An ensemble lists its
members in ``manifest["ensemble"]``: ``[{"kind": "lightgbm" | "linear", "artifact": <role>, "weight": w}]``;
the prediction is the weighted mean of the members' class probabilities (regression: of their values).
A ``linear`` member is an NPZ (:class:`LinearModel`): numeric columns imputed with the training median,
standardised, with a missing-value indicator; categorical columns one-hot (unseen and missing share a
column); then ``softmax(x @ coef.T + intercept)`` (binary: the sigmoid) or ``x @ coef.T + intercept``.

Imports only numpy and the standard library at module level; lightgbm is imported when a model loads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PredictionInputError, Predictor
from shared.packages.common import softmax

__all__ = ["MISSING_TOKENS", "LinearModel", "TablePredictor", "TableSchema", "category_key", "parse_number"]

# Spellings of a missing value in CSV cells and request values (pandas' defaults plus "?").
MISSING_TOKENS = frozenset(
    {
        "",
        "?",
        "NA",
        "N/A",
        "n/a",
        "NaN",
        "nan",
        "NAN",
        "-NaN",
        "-nan",
        "null",
        "NULL",
        "Null",
        "None",
        "none",
        "<NA>",
        "#N/A",
        "#NA",
        "-1.#IND",
        "1.#IND",
        "-1.#QNAN",
        "1.#QNAN",
    }
)
MAX_ROWS_PER_REQUEST = 10000


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in MISSING_TOKENS


def parse_number(value: Any) -> float:
    """A cell as a float; NaN when missing; ValueError when it is not a number."""
    if _is_missing(value):
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).strip())


def category_key(value: Any) -> str | None:
    """A cell as a category name; None when missing. ``3``, ``3.0`` and ``"3"`` are the same category, and
    so are ``true``, ``"True"`` and ``"TRUE"`` (a CSV written by pandas spells booleans ``True``)."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text.lower() if text.lower() in ("true", "false") else text


class TableSchema:
    """Feature columns, their types and categories, the label column, the problem and the labels."""

    def __init__(
        self, columns: list[dict[str, Any]], label_column: str, problem: str, labels: Sequence[str] = ()
    ) -> None:
        self.columns = columns
        self.label_column = label_column
        self.problem = problem
        self.labels = [str(x) for x in labels]
        self.features = [c for c in columns if c["type"] != "ignored"]
        self._codes = {
            c["name"]: {name: float(i) for i, name in enumerate(c.get("categories", []))}
            for c in self.features
            if c["type"] == "categorical"
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TableSchema:
        return cls(list(raw["columns"]), raw["label_column"], raw["problem"], raw.get("labels", []))

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "label_column": self.label_column,
            "problem": self.problem,
            "labels": self.labels,
        }

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.features]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.features) if c["type"] == "categorical"]

    def encode_columns(self, columns: Mapping[str, Sequence[Any]], n_rows: int) -> np.ndarray:
        """The feature matrix (float64, rows x features) of column-wise data (the trainer's path)."""
        matrix = np.full((n_rows, len(self.features)), np.nan, dtype=np.float64)
        for j, column in enumerate(self.features):
            values = columns[column["name"]]
            matrix[:, j] = self._encode_column(column, values)
        return matrix

    def _encode_column(self, column: dict[str, Any], values: Iterable[Any]) -> list[float]:
        name = column["name"]
        if column["type"] == "categorical":
            codes = self._codes[name]
            return [
                codes.get(k, math.nan) if (k := category_key(v)) is not None else math.nan for v in values
            ]
        out = []
        for v in values:
            try:
                out.append(parse_number(v))
            except (TypeError, ValueError) as exc:
                raise PredictionInputError(
                    "value_not_numeric", f"column {name!r}: {v!r} is not a number", field=name
                ) from exc
        return out

    def encode_rows(self, rows: Any) -> np.ndarray:
        """The feature matrix of request rows; PredictionInputError names the row and column at fault."""
        if not isinstance(rows, list) or not rows:
            raise PredictionInputError(
                "rows_required", "req_data must be a non-empty array of row objects", field="req_data"
            )
        if len(rows) > MAX_ROWS_PER_REQUEST:
            raise PredictionInputError(
                "too_many_rows", f"at most {MAX_ROWS_PER_REQUEST} rows per request", field="req_data"
            )
        known = {c["name"] for c in self.columns} | {self.label_column}
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise PredictionInputError(
                    "row_not_object", f"row {i} is not an object", field=f"req_data[{i}]"
                )
            unknown = sorted(set(row) - known)
            if unknown:
                raise PredictionInputError(
                    "unknown_column",
                    f"row {i}: unknown column(s) {', '.join(unknown)}",
                    field=f"req_data[{i}].{unknown[0]}",
                )
        # A column left out of a row is a missing value, as an empty cell of the training CSV was.
        columns = {name: [row.get(name) for row in rows] for name in self.feature_names}
        return self.encode_columns(columns, len(rows))


class LinearModel:
    """A linear model over the encoded features (see the module doc), evaluated with numpy."""

    def __init__(self, path: Path) -> None:
        with np.load(path) as arrays:
            self.numeric = arrays["numeric"].astype(np.int64)  # feature indices
            self.median, self.mean, self.scale = arrays["median"], arrays["mean"], arrays["scale"]
            self.categorical = arrays["categorical"].astype(np.int64)
            # categories of each (one more column: other/missing)
            self.sizes = arrays["sizes"].astype(np.int64)
            self.coef, self.intercept = arrays["coef"], arrays["intercept"]

    @staticmethod
    def design(
        matrix: np.ndarray,
        numeric: np.ndarray,
        median: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        categorical: np.ndarray,
        sizes: np.ndarray,
    ) -> np.ndarray:
        """The linear model's inputs of an encoded feature matrix (the trainer builds them with this too)."""
        x = matrix[:, numeric]
        missing = np.isnan(x)
        filled = np.where(missing, median, x)
        parts = [(filled - mean) / scale, missing.astype(np.float64)]
        for j, size in zip(categorical, sizes):
            codes = matrix[:, j]
            index = np.where(np.isnan(codes) | (codes < 0) | (codes >= size), size, np.nan_to_num(codes))
            parts.append(np.eye(size + 1)[index.astype(np.int64)])
        return np.hstack(parts) if parts else np.zeros((len(matrix), 0))

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        x = self.design(
            matrix, self.numeric, self.median, self.mean, self.scale, self.categorical, self.sizes
        )
        raw: np.ndarray = x @ self.coef.T + self.intercept
        return raw


class TablePredictor(Predictor):
    """Loads the LightGBM model (or the ensemble) and the input schema; answers ``{"data": {"resp_data": [...]}}``."""

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        self.schema = TableSchema.from_dict(manifest["input_schema"])
        members = manifest.get("ensemble") or [{"kind": "lightgbm", "artifact": "model", "weight": 1.0}]
        self.members = [
            (m["kind"], self._load(m["kind"], m["artifact"]), float(m["weight"])) for m in members
        ]

    def _load(self, kind: str, role: str) -> Any:
        if kind == "linear":
            return LinearModel(self.artifact(role))
        import lightgbm  # lazily: the Triton venv imports this module before it needs the runtime

        return lightgbm.Booster(model_file=str(self.artifact(role)))

    def prepare(self, payload: bytes) -> np.ndarray:
        """The encoded feature matrix of one request's rows."""
        try:
            body = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PredictionInputError("payload_not_json", f"request is not JSON: {exc}") from exc
        if isinstance(body, dict):  # tolerate the whole request body {"data": {"req_data": [...]}}
            data = body.get("data")
            body = data.get("req_data") if isinstance(data, dict) else None
        return self.schema.encode_rows(body)

    def predict_prepared(self, prepared: list[np.ndarray]) -> list[dict[str, Any]]:
        """The answers of several requests' matrices: all their rows go through the model(s) in one call."""
        rows = self.predict_matrix(np.vstack(prepared))
        ends = np.cumsum([len(m) for m in prepared])
        return [{"data": {"resp_data": rows[end - len(m) : end]}} for m, end in zip(prepared, ends)]

    def predict_rows(self, rows: Any) -> list[dict[str, Any]]:
        """One ``{"predict": …}`` per row object."""
        return self.predict_matrix(self.schema.encode_rows(rows))

    def values(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities (rows x labels), or predicted values (regression), of an encoded matrix."""
        total: np.ndarray | None = None
        for kind, model, weight in self.members:
            part = weight * self._member_values(kind, model, matrix)
            total = part if total is None else total + part
        assert total is not None
        return total / sum(w for _, _, w in self.members)

    def _member_values(self, kind: str, model: Any, matrix: np.ndarray) -> np.ndarray:
        if kind == "linear":
            raw: np.ndarray = model.raw(matrix)
            if self.schema.problem == "regression":
                return raw[:, 0]
            if raw.shape[1] == 1:
                return _class_probabilities(1.0 / (1.0 + np.exp(-raw[:, 0])), 2)
            return softmax(raw)
        # One thread for small batches: OpenMP start-up costs more than it saves on a few rows.
        threads = {"num_threads": 1} if len(matrix) < 256 else {}
        raw = np.asarray(model.predict(matrix, **threads))
        return raw if self.schema.problem == "regression" else _class_probabilities(raw, len(self.labels))

    def predict_matrix(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        values = self.values(matrix)
        if self.schema.problem == "regression":
            return [{"predict": float(v)} for v in values]
        best = values.argmax(axis=1)
        return [
            {
                "predict": self.labels[k],
                "probabilities": {lab: round(float(p), 6) for lab, p in zip(self.labels, row)},
            }
            for k, row in zip(best, values)
        ]


def _class_probabilities(raw: np.ndarray, n_labels: int) -> np.ndarray:
    if raw.ndim == 1:  # binary objective: probability of class 1
        return np.column_stack([1.0 - raw, raw])
    return raw.reshape(-1, n_labels)
