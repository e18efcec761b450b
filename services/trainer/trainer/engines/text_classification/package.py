"""Writing a ``tfidf_linear`` text package: the TF-IDF blocks' vocabularies and one NPZ with their idf, and
each member's weights placed over the concatenated block columns (see :mod:`shared.packages.text`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.packages import write_manifest
from trainer.engines.base import TrainContext
from trainer.engines.text_classification.linear import Weights, export_blocks

__all__ = ["write_linear_package"]


def write_linear_package(
    ctx: TrainContext,
    labels: list[str],
    fitted: tuple[dict[str, Any], list[tuple[Weights, tuple[str, ...], int]]],
    name: str,
) -> None:
    from trainer.engines.common.latency import library_versions

    vectorizers, members = fitted
    folder = ctx.package_dir
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    blocks, artifacts, arrays = export_blocks(vectorizers, folder)
    offsets, total = {}, 0
    for block_name, vectorizer in vectorizers.items():
        offsets[block_name] = total
        total += len(vectorizer.vocabulary_)
    coef = np.zeros((len(members), len(labels), total))
    intercept = np.zeros((len(members), len(labels)))
    for m, (weights, member_blocks, _) in enumerate(members):
        column = 0
        for block_name in member_blocks:  # the member's columns: its blocks side by side, in its order
            width = len(vectorizers[block_name].vocabulary_)
            start = offsets[block_name]
            coef[m, :, start : start + width] = weights.coef[:, column : column + width] / weights.temperature
            column += width
        intercept[m] = weights.intercept / weights.temperature
    np.savez_compressed(
        folder / "model.npz",
        coef=coef,
        intercept=intercept,
        weights=np.array([float(w) for _, _, w in members]),
        **arrays,  # type: ignore[arg-type]  # mypy takes **arrays for allow_pickle too; its keys are array names
    )
    write_manifest(
        folder,
        {
            "task_type": "text_classification",
            "labels": labels,
            "artifacts": {"model": "model.npz", **artifacts},
            "preprocessing": {"kind": "tfidf_linear", "blocks": blocks},
            "metrics": {},
            "parameters": {
                "preference": ctx.params.preference,
                "features": total,
                "members": [{"blocks": list(b), "model": name, "weight": w} for _, b, w in members],
                "incremental": ctx.params.incremental_package_dir is not None,
            },
            "engine": {
                "name": "text_classification",
                "candidate": name,
                "versions": library_versions("scikit-learn", "numpy"),
            },
            "dataset": dict(ctx.data.dataset),
        },
    )
