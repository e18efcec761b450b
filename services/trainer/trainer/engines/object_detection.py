"""Object detection engine: a CenterNet/TTFNet-style detector on a timm backbone, trained within the budget.

1. **Candidate.** The preference picks the backbone and input size (:data:`PORTFOLIO`); the input size is
   capped by the images' own size (no upscaling of small images beyond the next multiple of 32, at least
   64). When ``max_inference_ms`` is set, each candidate's exported network is timed on this machine's CPU
   (one thread, batch 1, pre- and post-processing included) and the first one within the limit is used.
   ``EXEML_DETECTION_CANDIDATES`` (or ``params.extra["detection_candidates"]``), e.g. ``"resnet10t@128"``,
   replaces the portfolio for operators and tests.
2. **Training.** Images are letterboxed once with the predictor's code (:mod:`.detection_data`); batches get
   flip / zoom / shift / colour augmentation. AdamW, linear warm-up then cosine decay over the *time*
   available (or the epoch cap, whichever ends first), so the schedule completes whatever the budget.
   After each epoch the model is evaluated on the validation images (mAP@0.5:0.95, then mAP@0.5) and the
   best epoch's weights are kept; a stop request or the deadline ends training and the best epoch is
   packaged. Random initialisation unless ``EXEML_PRETRAINED_DIR`` holds the backbone's weights (never a
   hub download).
3. **Incremental training.** When ``params.incremental_package_dir`` is a detection package with the same
   labels, its ``model.pt`` (architecture, backbone, input size, weights) is the starting point.
4. **Package.** ``model.onnx`` (opset 17; outputs ``scores`` and ``boxes``, see
   :mod:`.detection_model`), checked against torch on validation images (max difference in the manifest),
   ``model.pt``, ``manifest.json``. The reported metrics (:mod:`.detection_metrics`: mAP@0.5, mAP@0.5:0.95,
   per-class AP, precision/recall/F1 at the serving threshold, accuracy, confusion table) are computed by
   running the validation images through the package's own predictor, :class:`shared.packages.detection.
   DetectionPredictor` — what is reported is what serving answers.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

# Nothing here may reach a model hub, whatever a library decides on its own (timm → huggingface_hub).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from trainer.engines.base import EngineResult, TrainContext

try:  # the trainer core's "fail without retries" error (not on every branch yet)
    from trainer.engines.base import DataError
except ImportError:  # pragma: no cover - depends on the merge order

    class DataError(ValueError):  # type: ignore[no-redef]
        """The version cannot give a detector (no boxes, no validation images, no candidate fast enough)."""


__all__ = ["PORTFOLIO", "Candidate", "DataError", "ObjectDetectionEngine"]

CANDIDATES_ENV = "EXEML_DETECTION_CANDIDATES"
# Preference → candidates (backbone, largest input size, neck channels), best first.
PORTFOLIO: dict[str, list[tuple[str, int, int]]] = {
    "performance_first": [("resnet10t", 320, 64), ("lcnet_050", 256, 48)],
    "balance": [("resnet18d", 416, 64), ("resnet10t", 320, 64), ("lcnet_050", 256, 48)],
    "accuracy_first": [("resnet34d", 512, 96), ("resnet18d", 416, 64), ("resnet10t", 320, 64)],
}
MAX_EPOCHS = {"performance_first": 80, "balance": 150, "accuracy_first": 300}
SCORE_THRESHOLD = 0.3  # serving threshold (manifest); mAP uses detections down to MAP_SCORE_THRESHOLD
SELECTION_EVAL_IMAGES = 300  # at most this many validation images evaluated after each epoch
BATCH_SIZE = 16
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
PAD_VALUE = 114


@dataclass(frozen=True)
class Candidate:
    backbone: str
    image_size: int
    channels: int = 64

    @property
    def name(self) -> str:
        return f"centernet-{self.backbone}@{self.image_size}"


def preprocessing_spec(size: int) -> dict[str, Any]:
    return {
        "image_size": [size, size],
        "resize": "letterbox",
        "pad_value": PAD_VALUE,
        "interpolation": "bilinear",
        "channel_order": "RGB",
        "layout": "NCHW",
        "scale": 1.0 / 255.0,
        "mean": MEAN,
        "std": STD,
        "input_name": "images",
        "outputs": {"scores": "scores", "boxes": "boxes"},
        "score_threshold": SCORE_THRESHOLD,
        "nms_iou": 0.5,
        "max_detections": 100,
    }


class ObjectDetectionEngine:
    name: ClassVar[str] = "object_detection"
    task_types: ClassVar[tuple[str, ...]] = ("object_detection",)

    def train(self, ctx: TrainContext) -> EngineResult:
        from trainer.engines import detection_package
        from trainer.engines import detection_training as training

        started = time.monotonic()
        ctx.report(1, "preparing data")
        labels = _labels(ctx)
        _check_data(ctx, labels)
        previous = detection_package.previous_model(ctx, labels)
        candidates = _candidates(ctx, previous)
        ctx.log(
            f"object detection: {len(ctx.data.train)} training / {len(ctx.data.eval)} validation images, "
            f"labels {labels}, candidates {[c.name for c in candidates]}"
        )
        run = training.Run(ctx, labels, previous)
        candidate, tried = run.pick_candidate(candidates)
        trained = run.fit(candidate)
        ctx.report(92, "packaging")
        metrics = run.package(trained, preprocessing_spec(candidate.image_size))
        ctx.log(
            f"object detection: mAP@0.5 {metrics['map_50']:.3f}, mAP@0.5:0.95 {metrics['map']:.3f} "
            f"in {time.monotonic() - started:.1f} s"
        )
        ctx.report(100, "done", {"map_50": metrics["map_50"], "map": metrics["map"]})
        return EngineResult(
            engine=self.name,
            candidate=candidate.name,
            metrics=metrics,
            candidates=[
                *tried,
                {
                    "name": candidate.name,
                    "score": metrics["map"],
                    "seconds": trained.seconds,
                    "epochs": trained.epochs,
                    "best_epoch": trained.best_epoch,
                },
            ],
            stopped_early=trained.stopped_early,
        )


def _labels(ctx: TrainContext) -> list[str]:
    labels = list(ctx.data.labels)
    seen = sorted({name for s in [*ctx.data.train, *ctx.data.eval] for name, _ in s.boxes})
    return labels + [x for x in seen if x not in labels] if labels else seen


def _check_data(ctx: TrainContext, labels: list[str]) -> None:
    boxed = [s for s in ctx.data.train if s.boxes]
    if not labels:
        raise DataError("the version has no labeled boxes")
    if len(boxed) < 2:
        raise DataError(f"{len(boxed)} training image(s) with boxes: at least 2 are needed")
    if not ctx.data.eval:
        raise DataError("the version has no validation images (set a train ratio below 1)")
    for s in [*ctx.data.train, *ctx.data.eval]:
        if s.path is None or not Path(s.path).is_file():
            raise DataError(f"sample {s.sample_id}: its image file is missing")


def _candidates(ctx: TrainContext, previous: dict[str, Any] | None) -> list[Candidate]:
    if previous is not None:  # incremental: the previous architecture, nothing else fits its weights
        return [Candidate(previous["backbone"], int(previous["image_size"]), int(previous["channels"]))]
    override = ctx.params.extra.get("detection_candidates") or os.environ.get(CANDIDATES_ENV)
    if override:
        out = []
        for item in str(override).split(","):
            backbone, _, size = item.strip().partition("@")
            out.append(Candidate(backbone, int(size or 320), 64))
        return out
    cap = _size_cap(ctx)
    found: list[Candidate] = []
    for backbone, size, channels in PORTFOLIO[ctx.params.preference]:
        candidate = Candidate(backbone, min(size, cap), channels)
        if candidate not in found:
            found.append(candidate)
    return found


def _size_cap(ctx: TrainContext) -> int:
    """The images' typical longer side rounded up to a multiple of 32 (at least 64): no pointless
    upscaling."""
    from PIL import Image

    sides = []
    for s in ctx.data.train[:200]:
        if s.width and s.height:
            sides.append(max(s.width, s.height))
        else:
            with Image.open(s.path) as image:
                sides.append(max(image.size))
    side = float(np.percentile(sides, 90)) if sides else 320.0
    return max(64, math.ceil(side / 32.0) * 32)
