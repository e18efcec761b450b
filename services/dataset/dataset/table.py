"""CSV tables: reading with or without a header, schema inference, timestamp detection."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from dataset.validation import Rejected

__all__ = ["column_names", "column_stats", "infer_schema", "is_timestamp", "read_csv"]

_DATE_CHARS = ("-", "/", ":")


def column_names(count: int) -> list[str]:
    """Names of a header-less table's columns, as ModelArts shows them."""
    return [f"attr_{i}" for i in range(1, count + 1)]


def read_csv(text: str, *, with_header: bool, max_columns: int) -> pd.DataFrame:
    """Parse one CSV file; ``Rejected`` when it cannot be read or has too many columns."""
    try:
        frame = pd.read_csv(io.StringIO(text), header=0 if with_header else None, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise Rejected("csv_format", f"not a readable CSV table: {exc}") from exc
    if frame.shape[1] >= max_columns:
        raise Rejected(
            "table_columns", f"the table has {frame.shape[1]} columns; it must have fewer than {max_columns}"
        )
    if frame.empty:
        raise Rejected("empty_table", "the table has no rows")
    if not with_header:
        frame.columns = column_names(frame.shape[1])
    else:
        frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def is_timestamp(series: pd.Series) -> bool:
    """A text column whose values (nearly all) parse as dates or times."""
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return False
    values = series.dropna().astype(str).head(200)
    if values.empty or not values.map(lambda v: any(c in v for c in _DATE_CHARS)).mean() >= 0.9:
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _column_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "string"


def infer_schema(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``[{"name", "type", "timestamp"}]`` in column order (``type`` is int, float, string or bool)."""
    return [
        {"name": str(name), "type": _column_type(frame[name]), "timestamp": is_timestamp(frame[name])}
        for name in frame.columns
    ]


def column_stats(frame: pd.DataFrame, schema: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per column its type, timestamp flag, missing and distinct counts: what the table rules read."""
    return {
        col["name"]: {
            "type": col["type"],
            "timestamp": col["timestamp"],
            "missing": int(frame[col["name"]].isna().sum()),
            "distinct": int(frame[col["name"]].nunique()),
        }
        for col in schema
    }
