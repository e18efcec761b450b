"""The network candidate: a CNN on log-mel windows trained within its planned time, exported to ONNX.

Imported only when a network is considered: torch takes seconds to import on a busy machine, and a job with
statistics models only never needs it.

Its validation probabilities come from the exported ONNX file through the predictor's own
:class:`shared.packages.sound.NetworkModel`, so ensembles are compared on what serving computes. ``model.pt``
(widths, labels, log-mel spec, weights) is kept beside it for incremental training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.packages import read_manifest
from shared.packages.sound import load_model, windows
from trainer.engines.base import TrainContext
from trainer.engines.common.onnx_export import check_onnx, export_onnx
from trainer.engines.sound_classification.classical import Fitted
from trainer.engines.sound_classification.data import ClipSet, SoundJob, network_spec
from trainer.engines.sound_classification.model import (
    ARCHITECTURES,
    Clip,
    SoundCNN,
    set_normalization,
    train_candidate,
)

__all__ = ["clips_for_network", "export_untrained", "fit_network", "previous_network"]


def clips_for_network(data: ClipSet, with_noisy: bool) -> list[Clip]:
    """Each clip's log-mel (computed once, in preparation), with its noisy copy when asked and prepared."""
    noisy = data.noisy_mels if with_noisy and data.noisy_mels is not None else [None] * len(data.mels)
    return [
        Clip([m] if n is None else [m, n], int(y)) for m, n, y in zip(data.mels, noisy, data.y, strict=True)
    ]


def previous_network(ctx: TrainContext, spec: dict[str, Any], labels: list[str]) -> dict[str, Any] | None:
    """The previous package's network checkpoint when incremental training can start from it."""
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    manifest = read_manifest(folder)
    weights = Path(folder) / str(manifest["artifacts"].get("weights", "model.pt"))
    if manifest.get("task_type") != "sound_classification" or not weights.is_file():
        ctx.log(
            "incremental training: the previous package has no network weights; every model starts afresh"
        )
        return None
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    if (
        network_spec(checkpoint.get("spec") or {}) != network_spec(spec)
        or checkpoint.get("candidate") not in ARCHITECTURES
    ):
        ctx.log("incremental training: the previous network's features differ, training from scratch")
        return None
    same = checkpoint.get("labels") == labels
    ctx.log(f"incremental training from {checkpoint['candidate']} ({'same' if same else 'different'} labels)")
    return checkpoint


def _export(model: SoundCNN, spec: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 1, int(spec["n_mels"]), int(spec["window_frames"]))
    return export_onnx(model, folder / "model.onnx", example, str(spec["input_name"]), (str(spec["output"]),))


def export_untrained(name: str, spec: dict[str, Any], folder: Path) -> Path:
    """An untrained ``name`` network as ONNX (what its latency is measured on before training it)."""
    return _export(SoundCNN(int(spec["n_mels"]), 2, ARCHITECTURES[name]).eval(), spec, folder)


def _warm_start(model: SoundCNN, state: dict[str, torch.Tensor]) -> None:
    own = model.state_dict()
    model.load_state_dict(
        {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False
    )


def fit_network(
    job: SoundJob, name: str, epochs: int, seconds: float, on_epoch: Callable[[dict[str, Any]], None]
) -> tuple[Fitted, bool]:
    """Trains ``name`` for at most ``epochs`` / ``seconds``; the fitted candidate and whether it stopped."""
    started = time.monotonic()
    spec, labels, previous, folder = job.spec, job.labels, job.previous, job.work / "network"
    train_clips = clips_for_network(job.train, with_noisy=True)
    model = SoundCNN(int(spec["n_mels"]), len(labels), ARCHITECTURES[name])
    set_normalization(model, train_clips)
    if previous is not None:
        _warm_start(model, previous["state_dict"])
    outcome = train_candidate(
        model,
        train_clips,
        clips_for_network(job.valid, with_noisy=False),
        spec,
        seconds=seconds,
        should_stop=job.ctx.should_stop,
        seed=job.ctx.params.seed,
        lr=1e-3 if previous else 3e-3,
        epochs=max(1, epochs),
        on_epoch=on_epoch,
    )
    _export(outcome.model, spec, folder)
    check = check_onnx(
        outcome.model, folder / "model.onnx", np.concatenate([windows(m, spec) for m in job.valid.mels[:8]])
    )
    weights = {"candidate": name, "widths": ARCHITECTURES[name], "labels": labels, "spec": network_spec(spec)}
    torch.save({**weights, "state_dict": outcome.model.state_dict()}, folder / "model.pt")
    network = load_model("model", folder / "model.onnx", spec)
    probabilities = np.stack([network.probabilities(m) for m in job.valid.mels])
    details = {
        "architecture": name,
        "widths": list(ARCHITECTURES[name]),
        "epochs": outcome.epochs,
        "planned_epochs": epochs,
        "warm_start": previous is not None,
        "onnx_check": check,
    }
    fitted = Fitted(name, "model", folder / "model.onnx", probabilities, time.monotonic() - started, details)
    return fitted, outcome.stopped
