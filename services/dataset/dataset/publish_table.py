"""Publishing a table version: the CSV parts joined, split, and frozen as ``train.csv`` / ``eval.csv``."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd

from dataset.models import Dataset, Sample
from dataset.split import stratified_split
from dataset.table import column_stats, infer_schema, read_csv
from shared.manifest import ManifestLine, dump_lines
from shared.storage import S3Uri
from shared.storage.tenancy import TenantStorage

__all__ = ["freeze_table"]

# A numeric label with at least this many distinct values is a regression target (seed: "continuous").
CONTINUOUS_DISTINCT = 25


def _is_classification(label: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(label)
    return not numeric or label.nunique() < CONTINUOUS_DISTINCT


def _distinct_records(frame: pd.DataFrame, label_column: str | None) -> int:
    """Records that differ in a feature (the guide: "a feature with different values is considered as
    different data"); rows equal in every feature count once, whatever their labels."""
    features = [c for c in frame.columns if c != label_column] or list(frame.columns)
    return len(frame.drop_duplicates(subset=features)) if len(frame.columns) else len(frame)


async def freeze_table(
    store: TenantStorage, dataset: Dataset, samples: list[Sample], folder: S3Uri, ratio: float, seed: str
) -> dict[str, Any]:
    frames = []
    size = 0
    for sample in sorted(samples, key=lambda s: s.name):
        data = await store.get(sample.source)
        size += len(data)
        frames.append(
            read_csv(data.decode("utf-8-sig"), with_header=dataset.with_column_header, max_columns=10_000)
        )
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    schema = infer_schema(frame)
    label_column = dataset.label_column or (schema[-1]["name"] if schema else None)
    label = frame[label_column] if label_column in frame else pd.Series([], dtype=object)
    classification = _is_classification(label)
    strata = label.astype(str).tolist() if classification else [""] * len(frame)
    is_train = stratified_split(strata, ratio, seed)
    train, evaluation = frame[is_train], frame[[not t for t in is_train]]
    lines = []
    for name, part, usage in (("train.csv", train, "TRAIN"), ("eval.csv", evaluation, "EVAL")):
        uri = folder.join(name)
        text = await asyncio.to_thread(part.to_csv, index=False)
        await store.put(uri, text.encode(), content_type="text/csv")
        lines.append(
            ManifestLine(source=str(uri), usage=usage, sample_type=4, extra={"row-count": len(part)})
        )
    manifest = folder.join(f"{folder.key.rstrip('/').rsplit('/', 1)[-1]}.manifest")
    await store.put(manifest, dump_lines(lines).encode(), content_type="application/jsonl")
    labels = sorted(label.dropna().astype(str).unique().tolist()) if classification else []
    statistics = {
        "row_count": len(frame),
        "distinct_record_count": _distinct_records(frame, label_column),
        "size_bytes": size,
        # The source files' header flag (the frozen train.csv/eval.csv always start with the column names).
        "csv_header": dataset.with_column_header,
        "task": "classification" if classification else "regression",
        "columns": column_stats(frame, schema),
        "usage": {"TRAIN": len(train), "EVAL": len(evaluation)},
        "labels": {str(k): {"sample_count": int(v)} for k, v in label.astype(str).value_counts().items()}
        if classification
        else {},
        "total_sample_count": len(frame),
    }
    return {
        "manifest_uri": str(manifest),
        "sample_count": len(frame),
        "train_count": len(train),
        "eval_count": len(evaluation),
        "labels": labels,
        "statistics": statistics,
        "table_schema": [{"name": c["name"], "type": c["type"]} for c in schema],
        "label_column": label_column,
    }
