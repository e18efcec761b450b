"""The image classification package: candidate models, the manifest, export + check + evaluation.

Package folder (see :mod:`shared.packages`)::

    manifest.json   task_type, labels, preprocessing (how serving turns an image into the model input),
                    model (timm name, image size, ONNX check, latency, initial weights, epochs), metrics,
                    parameters, candidates tried, engine versions, dataset version
    model.onnx      NCHW float32 ``images`` -> ``logits``, dynamic batch, opset 17
    model.pt        {"timm_name", "image_size", "labels", "state_dict"}: the warm start of incremental training
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shared.packages import read_manifest, write_manifest
from shared.packages.image import ImageClassificationPredictor, preprocess_image
from trainer.engines.base import TrainContext
from trainer.engines.common.latency import library_versions, measure_latency_ms
from trainer.engines.common.onnx_export import check_onnx, export_onnx
from trainer.engines.common.scratch import SCRATCH_PREFIX
from trainer.engines.image_classification.data import ImageSet
from trainer.metrics import classification_metrics

__all__ = [
    "CROP_PCT",
    "Candidate",
    "TrainedModel",
    "create_model",
    "manifest_core",
    "preprocessing_spec",
    "write_package",
]

CROP_PCT = 0.875  # resize the shorter side to size / 0.875, then centre-crop (timm's evaluation default)
TRAINING_LABEL_POLICY = "first label of each image"


@dataclass(frozen=True)
class Candidate:
    model: str  # timm model name
    image_size: int
    warm_start: Path | None = None  # model.pt of the incremental training package

    @property
    def name(self) -> str:
        return f"{self.model}@{self.image_size}"


@dataclass
class TrainedModel:
    """What packaging needs: the delivered module (the network, the hand-feature regression or both) and
    the trained network's weights (``model.pt``, the warm start of incremental training)."""

    candidate: Candidate  # the trained network
    model: nn.Module  # what model.onnx computes
    spec: dict[str, Any]
    state: dict[str, torch.Tensor]  # the network's best epoch's weights
    details: dict[str, Any]  # init, best_epoch, epochs, delivered (recorded under manifest["model"])
    name: str = ""  # the delivered model's name (the candidate's when the network alone is delivered)


def create_model(candidate: Candidate, num_classes: int) -> nn.Module:
    """A ``scratch<W>`` network (see :mod:`.models`) or a timm model, with random weights."""
    from trainer.engines.image_classification.models import scratch_classifier

    scratch = scratch_classifier(candidate.model, num_classes)
    if scratch is not None:
        return scratch
    import timm  # after trainer.engines has set HF_HUB_OFFLINE

    return timm.create_model(candidate.model, pretrained=False, num_classes=num_classes)


def preprocessing_spec(model: nn.Module, candidate: Candidate) -> dict[str, Any]:
    """The manifest's ``preprocessing``: the model's own normalisation (ImageNet's for timm CNNs)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return {
        "image_size": [candidate.image_size, candidate.image_size],
        "resize_shorter": round(candidate.image_size / CROP_PCT),
        # scratch networks see whole images (their training crops are of the whole image): objects near an
        # edge stay whole; pretrained ones keep their centre crop
        "crop": "none" if candidate.model.startswith(SCRATCH_PREFIX) else "center",
        "interpolation": "bilinear",
        "channel_order": "RGB",
        "layout": "NCHW",
        "scale": 1.0 / 255.0,
        "mean": [float(v) for v in cfg.get("mean", (0.485, 0.456, 0.406))],
        "std": [float(v) for v in cfg.get("std", (0.229, 0.224, 0.225))],
        "input_name": "images",
        "output": "logits",
    }


def manifest_core(labels: list[str], candidate: Candidate, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_type": "image_classification",
        "labels": labels,
        "artifacts": {"model": "model.onnx", "weights": "model.pt"},
        "preprocessing": spec,
        "input_schema": {"type": "image", "formats": ["JPG", "JPEG", "PNG", "BMP"], "field": "images"},
        "model": {"timm_name": candidate.model, "image_size": candidate.image_size},
    }


def _export(folder: Path, labels: list[str], trained: TrainedModel, eval_set: ImageSet) -> dict[str, Any]:
    model = trained.model.to("cpu").eval()
    size = trained.candidate.image_size
    export_onnx(model, folder / "model.onnx", torch.zeros(1, 3, size, size))
    sample = np.stack([preprocess_image(image, trained.spec) for image in eval_set.images[:8]])
    onnx_check = check_onnx(model, folder / "model.onnx", sample)
    weights = {"timm_name": trained.candidate.model, "image_size": size, "labels": labels}
    torch.save({**weights, "state_dict": trained.state}, folder / "model.pt")
    manifest = manifest_core(labels, trained.candidate, trained.spec)
    manifest["model"].update(
        onnx_check=onnx_check, training_label_policy=TRAINING_LABEL_POLICY, **trained.details
    )
    write_manifest(folder, manifest)
    return manifest


def _evaluate(
    predictor: ImageClassificationPredictor, labels: list[str], eval_set: ImageSet
) -> dict[str, Any]:
    """Metrics of the packaged model on the validation files, through the serving code."""
    predicted: list[str] = []
    for start in range(0, len(eval_set), 32):
        payloads = [path.read_bytes() for path in eval_set.paths[start : start + 32]]
        predicted += [answer["predicted_label"] for answer in predictor.predict_batch(payloads)]
    return classification_metrics([labels[t] for t in eval_set.targets], predicted, labels)


def write_package(
    ctx: TrainContext,
    labels: list[str],
    trained: TrainedModel,
    eval_set: ImageSet,
    candidates: list[dict[str, Any]],
    engine: str,
    measured: TrainedModel | None = None,
) -> dict[str, Any]:
    """Exports, checks, evaluates and writes the package into ``ctx.package_dir``; returns the metrics.

    ``measured``: when the delivered networks were trained on the validation images too, the same recipe
    trained without them; the metrics are that model's, through the serving code on the validation files
    (a package of it in a folder of the work dir), and never the delivered model's on images it learned."""
    folder = Path(ctx.package_dir)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _export(folder, labels, trained, eval_set)
    ctx.report(97, "evaluating")
    predictor = ImageClassificationPredictor(folder, read_manifest(folder))
    if measured is None:
        metrics = _evaluate(predictor, labels, eval_set)
    else:
        held_out = Path(ctx.work_dir) / "held_out_package"
        held_out.mkdir(parents=True, exist_ok=True)
        _export(held_out, labels, measured, eval_set)
        metrics = _evaluate(ImageClassificationPredictor(held_out, read_manifest(held_out)), labels, eval_set)
        manifest["model"]["metrics_of"] = (
            f"{measured.name}: the same recipe trained without the {len(eval_set)} validation images, which "
            "the delivered networks were also trained on"
        )
    payload = eval_set.paths[0].read_bytes()
    latency = measure_latency_ms(lambda: predictor.predict(payload))
    # The limit was enforced when the candidate was chosen (same architecture, random weights); this is
    # the packaged model's own time, one image through the predictor on this machine's CPU.
    manifest["model"]["latency_ms"] = {
        "value": round(latency, 3),
        "measured_on": "CPU",
        "limit": ctx.params.max_inference_ms,
    }
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(ctx.params).items()}
    manifest.update(
        metrics=metrics,
        parameters=params,
        candidates=candidates,
        engine={
            "name": engine,
            "candidate": trained.name or trained.candidate.name,
            "versions": library_versions(
                "torch", "torchvision", "timm", "onnx", "onnxruntime", "pillow", "numpy", "scikit-learn"
            ),
        },
        dataset=dict(ctx.data.dataset),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    write_manifest(folder, manifest)
    return metrics
