"""Writing the table engine's package: one LightGBM model (``model.lgb.txt``) or an ensemble (LightGBM
text models and numpy linear models, weighted), with the input schema (:mod:`shared.packages.table`)."""

from __future__ import annotations

import json
from importlib.metadata import version as dist_version
from typing import Any

import lightgbm as lgb
import numpy as np

from shared.packages import write_manifest
from shared.packages.table import TableSchema
from trainer.engines.base import TrainContext

__all__ = ["MODEL_FILE", "add_metrics", "write_package"]

MODEL_FILE = "model.lgb.txt"


def write_package(
    ctx: TrainContext,
    schema: TableSchema,
    models: list[tuple[str, Any, float]],
    candidate: str,
    parameters: dict[str, Any],
) -> None:
    folder = ctx.package_dir
    folder.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, str] = {}
    ensemble = []
    for i, (kind, model, weight) in enumerate(models):
        role = "model" if i == 0 else f"model_{i}"
        if kind == "linear":
            artifacts[role] = f"{role}.linear.npz"
            model.save(folder / artifacts[role])
        else:
            artifacts[role] = MODEL_FILE if i == 0 else f"{role}.lgb.txt"
            model.save_model(str(folder / artifacts[role]))
        ensemble.append({"kind": kind, "artifact": role, "weight": round(float(weight), 6)})
    first = next((m for k, m, _ in models if k == "lightgbm"), None)
    manifest: dict[str, Any] = {
        "task_type": "predictive_analytics",
        "problem": schema.problem,
        "labels": schema.labels,
        "artifacts": artifacts,
        "preprocessing": {"encoding": "shared.packages.table.TableSchema"},
        "input_schema": schema.as_dict(),
        "metrics": {},
        "parameters": {
            "preference": ctx.params.preference,
            **parameters,
            "rounds": first.current_iteration() if first is not None else 0,
            "incremental": ctx.params.incremental_package_dir is not None,
        },
        "engine": {
            "name": "table-automl",
            "candidate": candidate,
            "versions": {
                "lightgbm": lgb.__version__,
                "optuna": dist_version("optuna"),
                "scikit-learn": dist_version("scikit-learn"),
                "numpy": np.__version__,
            },
        },
        "dataset": dict(ctx.data.dataset),
    }
    if len(models) > 1 or models[0][0] != "lightgbm":
        manifest["ensemble"] = ensemble
    write_manifest(folder, manifest)


def add_metrics(package_dir: Any, metrics: dict[str, Any]) -> None:
    path = package_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["metrics"] = metrics
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
