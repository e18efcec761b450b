"""The detection package: ONNX export and its check against torch, ``model.pt``, the manifest, evaluation.

Package folder (see :mod:`shared.packages`)::

    manifest.json   task_type, labels, preprocessing (letterbox, normalisation, score threshold, NMS: how
                    the predictor turns an image into the model input and the outputs into boxes), model
                    (architecture, backbone, input size, ONNX check, latency, initial weights, epochs),
                    metrics, parameters, engine versions, dataset version
    model.onnx      ``images`` (N x 3 x S x S float32) → ``scores`` (N x C x S/4 x S/4) and ``boxes``
                    (N x 4 x S/4 x S/4, xyxy input pixels); dynamic batch, opset 17
    model.pt        {"architecture", "backbone", "image_size", "channels", "labels", "state_dict"}: the warm
                    start of incremental training
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.packages import PackageError, read_manifest, write_manifest
from shared.packages.detection import DetectionPredictor
from trainer.engines.base import DataError, TrainContext
from trainer.engines.common.latency import library_versions, measure_latency_ms
from trainer.engines.common.pretrained import find_pretrained_file
from trainer.engines.common.torch_setup import state_dict_copy
from trainer.engines.object_detection.data import DetectionSet, load_set, to_input
from trainer.engines.object_detection.metrics import MAP_SCORE_THRESHOLD, Truth, detection_metrics
from trainer.engines.object_detection.model import Detector, ExportedDetector, describe
from trainer.engines.object_detection.plan import SCORE_THRESHOLD

__all__ = [
    "ARCHITECTURE",
    "check_onnx",
    "export_onnx",
    "load_backbone",
    "pretrained_file",
    "previous_model",
    "write_package",
]

ARCHITECTURE = "centernet-ttf-v1"
MODEL_ONNX, MODEL_PT = "model.onnx", "model.pt"
ONNX_OPSET = 17


def previous_model(ctx: TrainContext, labels: list[str]) -> dict[str, Any] | None:
    """The ``model.pt`` content of the incremental package when it is a detection model of the same labels."""
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    try:
        manifest = read_manifest(Path(folder))
        state = torch.load(
            Path(folder) / manifest["artifacts"]["weights"], map_location="cpu", weights_only=True
        )
    except (PackageError, KeyError, OSError, RuntimeError) as exc:
        ctx.log(f"incremental training: the previous package is unusable ({exc}); training from scratch")
        return None
    if state.get("architecture") != ARCHITECTURE or list(state.get("labels", [])) != list(labels):
        ctx.log(
            "incremental training: the previous model's labels or architecture differ; training from scratch"
        )
        return None
    ctx.log(f"incremental training: warm start from {manifest.get('training_job_id', folder)}")
    return state


def pretrained_file(backbone: str) -> Path | None:
    """The backbone's weights in the operator's pretrained folder, if any (``EXEML_PRETRAINED_DIR``)."""
    return find_pretrained_file(backbone)


def load_backbone(model: Detector, path: Path) -> dict[str, Any]:
    """Loads the tensors of ``path`` that fit the backbone by name and shape (classifier head ignored)."""
    state: dict[str, Any]
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    own = model.backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise DataError(f"pretrained file {path.name} fits no tensor of {model.backbone.__class__.__name__}")
    model.backbone.load_state_dict(usable, strict=False)
    return {"pretrained_file": path.name, "loaded_tensors": len(usable), "backbone_tensors": len(own)}


def export_onnx(model: Detector, path: Path, size: int) -> Path:
    wrapped = ExportedDetector(model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (torch.zeros(1, 3, size, size),),
            str(path),
            input_names=["images"],
            output_names=["scores", "boxes"],
            opset_version=ONNX_OPSET,
            dynamo=False,
            dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}, "boxes": {0: "batch"}},
        )
    return path


def write_package(
    ctx: TrainContext,
    trained: Any,
    spec: dict[str, Any],
    labels: list[str],
    truths: list[Truth],
    incremental: bool,
) -> dict[str, Any]:
    """Writes ``model.onnx`` (checked against torch), ``model.pt`` and the manifest into ``ctx.package_dir``;
    the metrics are those of the validation images run through the package's own predictor."""
    candidate = trained.candidate
    folder = ctx.package_dir
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(trained.model, folder / MODEL_ONNX, candidate.image_size)
    torch.save(
        {
            "architecture": ARCHITECTURE,
            "backbone": candidate.backbone,
            "image_size": candidate.image_size,
            "channels": candidate.channels,
            "labels": labels,
            "state_dict": state_dict_copy(trained.model),
        },
        folder / MODEL_PT,
    )
    check = check_onnx(trained.model, folder / MODEL_ONNX, load_set(ctx.data.eval[:4], labels, spec), spec)
    manifest: dict[str, Any] = {
        "task_type": "object_detection",
        "labels": labels,
        "artifacts": {"model": MODEL_ONNX, "weights": MODEL_PT},
        "preprocessing": spec,
        "model": {
            **describe(trained.model),
            "name": ARCHITECTURE,
            "backbone": candidate.backbone,
            "image_size": candidate.image_size,
            "neck_channels": candidate.channels,
            "onnx_check": check,
            "init": trained.init,
            "epochs": trained.epochs,
            "best_epoch": trained.best_epoch,
            "selection": trained.best_score,
        },
        "metrics": {},
        "parameters": {
            "preference": ctx.params.preference,
            "max_inference_ms": ctx.params.max_inference_ms,
            "incremental": incremental,
            "seed": ctx.params.seed,
        },
        "engine": {
            "name": "object_detection",
            "candidate": candidate.name,
            "versions": library_versions(
                "torch",
                "onnx",
                "onnxruntime",
                "numpy",
                *(() if candidate.backbone.startswith("scratch") else ("timm",)),
            ),
        },
        "dataset": dict(ctx.data.dataset),
    }
    write_manifest(folder, manifest)
    ctx.report(94, "evaluating")
    predictor = DetectionPredictor(folder, read_manifest(folder))
    payloads = [s.file().read_bytes() for s in ctx.data.eval]
    found = []
    for i in range(0, len(payloads), 16):
        found += predictor.detect_batch(payloads[i : i + 16], score_threshold=MAP_SCORE_THRESHOLD)
    metrics = detection_metrics(found, truths, labels, SCORE_THRESHOLD)
    latency = measure_latency_ms(lambda: predictor.predict(payloads[0]), budget_seconds=0.5, warmups=1)
    manifest["metrics"] = metrics
    manifest["model"]["latency_ms"] = {"value": round(latency, 3), "hardware": "CPU", "threads": 1}
    write_manifest(folder, manifest)
    return metrics


def check_onnx(model: Detector, path: Path, data: DetectionSet, spec: dict[str, Any]) -> dict[str, Any]:
    """Runs ``data`` through torch and onnxruntime; raises when they differ beyond rounding."""
    import onnxruntime as ort

    batch = to_input(data.canvases(slice(None)), spec)
    with torch.no_grad():
        expected = [t.numpy() for t in ExportedDetector(model.eval())(batch)]
        heat = torch.sigmoid(model(batch)[0])
        gap = (torch.nn.functional.max_pool2d(heat, 3, stride=1, padding=1) - heat).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["scores", "boxes"], {"images": batch.numpy()})
    (e_scores, e_boxes), (g_scores, g_boxes) = expected, got
    agree = (e_scores > 0) == (g_scores > 0)
    # A cell that is a peak in one runtime only must be a near-tie with a neighbour (rounding decides).
    lonely = ~agree
    diffs = {
        "scores": float(np.abs(e_scores - g_scores)[agree].max(initial=0.0)),
        "boxes": float(np.abs(e_boxes - g_boxes).max()),
        "single_runtime_peak_gap": float(gap[lonely].max(initial=0.0)),
    }
    limits = {
        "scores": 1e-3,
        "boxes": 1e-3 * max(1.0, float(np.abs(e_boxes).max())),
        "single_runtime_peak_gap": 1e-4,
    }
    if any(not math.isfinite(d) or d > limits[k] for k, d in diffs.items()):
        raise RuntimeError(f"the ONNX export differs from torch: {diffs} (limits {limits})")
    return {
        "images": int(batch.shape[0]),
        "max_abs_diff": diffs,
        "single_runtime_peaks": int(lonely.sum()),
        "opset": ONNX_OPSET,
    }
