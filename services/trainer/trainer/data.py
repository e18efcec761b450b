"""Reading a published dataset version into an engine's :class:`VersionData` (in the training process).

The manifest (JSON Lines) is read from storage; every file it names is downloaded into the run's work
folder. Tables: the ``train.csv`` (usage TRAIN) and ``eval.csv`` (EVAL) lines. Other types: one line per
labeled sample, its labels from the annotations (detection boxes included). When the version has no EVAL
lines, the samples are split here by ``train_ratio``, stratified by first label, with a fixed seed.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

from shared.manifest import ManifestError, ManifestLine, parse_lines
from shared.storage import ObjectStore, S3Uri
from shared.storage.tenancy import TenantStorage
from trainer.engines.base import Sample, TableData, VersionData

__all__ = ["VersionReadError", "load_version"]

DOWNLOAD_CONCURRENCY = 16  # small files: the store's latency, not its bandwidth, is the limit


class VersionReadError(ValueError):
    """The version's manifest or files cannot be read."""


async def load_version(
    store: ObjectStore | TenantStorage,
    version: dict[str, Any],
    task_type: str,
    work_dir: Path,
    train_ratio: float,
    seed: int = 0,
) -> VersionData:
    try:
        text = (await store.get(version["manifest_uri"])).decode("utf-8")
        lines = list(parse_lines(text))
    except (ManifestError, UnicodeDecodeError) as exc:
        raise VersionReadError(f"manifest {version['manifest_uri']}: {exc}") from exc
    data = VersionData(
        task_type=task_type,
        labels=list(version.get("labels") or []),
        dataset={k: version.get(k) for k in ("dataset_id", "version_id", "version_name")},
    )
    folder = work_dir / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if task_type == "predictive_analytics":
        data.table = await _load_table(store, lines, version, folder)
    else:
        data.train, data.eval = await _load_samples(store, lines, folder, train_ratio, seed)
    return data


async def _load_table(
    store: ObjectStore | TenantStorage, lines: list[ManifestLine], version: dict[str, Any], folder: Path
) -> TableData:
    by_usage: dict[str, list[ManifestLine]] = defaultdict(list)
    for line in lines:
        by_usage[line.usage or "TRAIN"].append(line)
    if len(by_usage["TRAIN"]) != 1 or len(by_usage["EVAL"]) > 1:
        raise VersionReadError(
            f"a table version lists one TRAIN file and at most one EVAL file; found {len(by_usage['TRAIN'])} "
            f"and {len(by_usage['EVAL'])}"
        )
    if not version.get("label_column"):
        raise VersionReadError("the table version names no label column")
    downloads = [_download(store, by_usage["TRAIN"][0].source, folder / "train.csv")]
    if by_usage["EVAL"]:
        downloads.append(_download(store, by_usage["EVAL"][0].source, folder / "eval.csv"))
    train, *rest = await asyncio.gather(*downloads)  # the two files at once
    evaluation = rest[0] if rest else None
    return TableData(
        train_csv=train,
        eval_csv=evaluation,
        label_column=version["label_column"],
        schema=list(version.get("table_schema") or []),
    )


async def _load_samples(
    store: ObjectStore | TenantStorage, lines: list[ManifestLine], folder: Path, train_ratio: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    labeled = [line for line in lines if line.labels and line.usage in (None, "TRAIN", "EVAL")]
    gate = asyncio.Semaphore(DOWNLOAD_CONCURRENCY)

    async def sample(index: int, line: ManifestLine) -> Sample:
        async with gate:
            return await _sample(store, line, folder, index)

    samples = await asyncio.gather(*(sample(i, line) for i, line in enumerate(labeled)))
    train = [s for s, line in zip(samples, labeled) if line.usage != "EVAL"]
    evaluation = [s for s, line in zip(samples, labeled) if line.usage == "EVAL"]
    if not evaluation:
        train, evaluation = _split(train, train_ratio, seed)
    return train, evaluation


async def _sample(store: ObjectStore | TenantStorage, line: ManifestLine, folder: Path, index: int) -> Sample:
    boxes = [(label, (b.xmin, b.ymin, b.xmax, b.ymax)) for a in line.annotations for label, b in a.boxes()]
    size = next((a.size for a in line.annotations if a.size), None) or {}
    if line.is_inline_text:
        return Sample(sample_id=line.id, labels=line.labels, text=line.text)
    name = PurePosixPath(S3Uri.parse(line.source).key).name or "sample"
    path = await _download(store, line.source, folder / f"{index:06d}_{name}")
    return Sample(
        sample_id=line.id,
        labels=line.labels,
        path=path,
        boxes=boxes,
        width=size.get("width"),
        height=size.get("height"),
    )


def _split(samples: list[Sample], ratio: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Stratified by first label: each class gives ``ratio`` of its samples (at least one) to training."""
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_label[s.labels[0]].append(s)
    rng = random.Random(seed)
    train, evaluation = [], []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        cut = min(max(1, round(len(group) * ratio)), len(group) - 1) if len(group) > 1 else 1
        train += group[:cut]
        evaluation += group[cut:]
    return train, evaluation


async def _download(store: ObjectStore | TenantStorage, source: str, target: Path) -> Path:
    try:
        stream = await store.open_stream(source)
        with target.open("wb") as fh:
            async for chunk in stream:
                fh.write(chunk)
    except Exception as exc:
        raise VersionReadError(f"cannot read {source}: {exc}") from exc
    return target
