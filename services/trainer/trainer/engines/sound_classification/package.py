"""The sound package: the chosen models' artifacts, the manifest, and metrics computed through the predictor."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np

from shared.packages import load_predictor, write_manifest
from shared.packages.sound import SoundPredictor
from trainer.engines.base import TrainContext
from trainer.engines.common.latency import library_versions, measure_latency_ms
from trainer.engines.sound_classification.classical import Fitted
from trainer.engines.sound_classification.data import ClipSet, network_spec
from trainer.metrics import classification_metrics

__all__ = ["write_package"]

VERSIONED = ("numpy", "soundfile", "scikit-learn", "lightgbm", "torch", "onnx", "onnxruntime")
ARTIFACT_FILES = {"linear": "linear.npz", "boosted": "boosted.lgb.txt", "model": "model.onnx"}


def _copy_artifacts(ctx: TrainContext, members: list[Fitted]) -> dict[str, str]:
    folder = ctx.package_dir
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for member in members:
        artifacts[member.role] = ARTIFACT_FILES[member.role]
        shutil.copyfile(member.path, folder / ARTIFACT_FILES[member.role])
        if member.role == "model":  # the network's weights, for incremental training
            shutil.copyfile(member.path.parent / "model.pt", folder / "model.pt")
            artifacts["weights"] = "model.pt"
    return artifacts


def write_package(
    ctx: TrainContext,
    name: str,
    members: list[Fitted],
    labels: list[str],
    spec: dict[str, Any],
    valid: ClipSet,
    typical: bytes,
) -> dict[str, Any]:
    """Writes the package of ``members`` (probabilities averaged) and returns its validation metrics, computed
    by the package's own predictor, with its end-to-end latency on a typical clip."""
    preprocessing: dict[str, Any] = {**network_spec(spec), "models": [m.role for m in members]}
    if any(m.role != "model" for m in members):
        preprocessing["statistics"] = dict(spec["statistics"])
    manifest: dict[str, Any] = {
        "task_type": "sound_classification",
        "labels": labels,
        "artifacts": _copy_artifacts(ctx, members),
        "preprocessing": preprocessing,
        "metrics": {},
        "parameters": {
            "preference": ctx.params.preference,
            "models": {
                m.role: {"name": m.name, **{k: v for k, v in m.details.items() if k != "onnx_check"}}
                for m in members
            },
            "incremental": ctx.params.incremental_package_dir is not None,
        },
        "engine": {
            "name": "sound_classification",
            "candidate": name,
            "versions": library_versions(*VERSIONED),
        },
        "dataset": dict(ctx.data.dataset),
    }
    write_manifest(ctx.package_dir, manifest)
    predictor = load_predictor(ctx.package_dir)
    assert isinstance(predictor, SoundPredictor)
    probabilities = np.stack([predictor.probabilities_of(mel) for mel in valid.mels])
    metrics = classification_metrics(
        [labels[i] for i in valid.y], [labels[i] for i in probabilities.argmax(axis=1)], labels
    )
    metrics["latency_ms"] = round(
        measure_latency_ms(lambda: predictor.predict(typical), budget_seconds=0.5), 3
    )
    metrics.update(latency_hardware="CPU", max_inference_ms=ctx.params.max_inference_ms)
    network = next((m for m in members if m.role == "model"), None)
    if network is not None:
        metrics["onnx_check"] = network.details["onnx_check"]
    manifest["metrics"] = metrics
    write_manifest(ctx.package_dir, manifest)
    return metrics
