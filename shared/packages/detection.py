"""Object detection predictor: image bytes → ``{"detection_classes", "detection_boxes", "detection_scores"}``.

Runs in the Triton python backend (numpy 1.26, no torch): numpy, Pillow and, lazily, onnxruntime only. The
trainer evaluates its models through this same code, so the metrics it reports are what serving answers.

The package's ``manifest["preprocessing"]`` says how a decoded image becomes the model input and how the
model outputs become boxes::

    {"image_size": [S, S],            # model input height, width (square canvas)
     "resize": "letterbox",           # aspect kept: scaled so the longer side is S, pasted at the top left,
     "pad_value": 114,                # the rest of the canvas filled with this grey (uint8, all channels)
     "interpolation": "bilinear",
     "channel_order": "RGB", "layout": "NCHW", "scale": 1/255, "mean": [...], "std": [...],
     "input_name": "images",
     "outputs": {"scores": "scores", "boxes": "boxes"},
     "score_threshold": 0.3,          # boxes below this score are not answered
     "nms_iou": 0.5,                  # per-class non-maximum suppression
     "max_detections": 100}

The ONNX model answers, per image, ``scores`` (N x classes x H x W: class probabilities at the local maxima
of the centre heat map, 0 elsewhere) and ``boxes`` (N x 4 x H x W: ``x_min, y_min, x_max, y_max`` in model
input pixels of the box centred at each cell). This module keeps the cells above the threshold (at most
``max_detections``, best first), suppresses overlapping boxes of one class, maps them back through the
letterbox to original-image pixels and clips them to the image.

The response follows ModelArts (reference §6.1) and the ExeML guide's example: ``detection_boxes`` items are
``[y_min, x_min, y_max, x_max]`` in original-image pixels (origin top left), decimal strings with 2 decimals
(``["60.89", "268.44", "652.69", "806.91"]``); ``detection_scores`` are decimal strings with 3 decimals
(``"0.972"``); the three lists are aligned and sorted by decreasing score. See
:mod:`shared.packages.common` (``score_text``, ``coordinate_text``) and ADR 0022.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PackageError
from shared.packages.common import coordinate_text, score_text
from shared.packages.image import (  # one decoder and one normalisation for every image task
    ALLOWED_FORMATS,
    OnnxImagePredictor,
    decode_image,
    normalize,
)

__all__ = [
    "ALLOWED_FORMATS",
    "DetectionPredictor",
    "Detections",
    "decode_image",
    "letterbox",
    "nms",
    "postprocess",
]


def letterbox(image: Any, spec: dict[str, Any]) -> tuple[np.ndarray, tuple[float, float]]:
    """The HWC ``uint8`` canvas of ``image`` (aspect kept, top-left, padded) and the x/y scale factors used.

    A point ``(x, y)`` of the original image lies at ``(x * sx, y * sy)`` on the canvas.
    """
    from PIL import Image

    height, width = (int(v) for v in spec["image_size"])
    w0, h0 = image.size
    ratio = min(width / w0, height / h0)
    new_w, new_h = max(1, min(width, round(w0 * ratio))), max(1, min(height, round(h0 * ratio)))
    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}[
        spec.get("interpolation", "bilinear")
    ]
    if (new_w, new_h) != (w0, h0):
        image = image.resize((new_w, new_h), resample)
    canvas = np.full((height, width, 3), int(spec.get("pad_value", 114)), dtype=np.uint8)
    canvas[:new_h, :new_w] = np.asarray(image, dtype=np.uint8)
    return canvas, (new_w / w0, new_h / h0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of ``boxes`` (xyxy) kept by greedy non-maximum suppression, by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


class Detections:
    """Boxes of one image in original pixels: ``boxes`` (K x 4 xyxy), ``scores`` (K), ``classes`` (K ints)."""

    __slots__ = ("boxes", "classes", "scores")

    def __init__(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> None:
        self.boxes, self.scores, self.classes = boxes, scores, classes


def postprocess(
    scores: np.ndarray,
    boxes: np.ndarray,
    scale: tuple[float, float],
    original_size: tuple[int, int],
    spec: dict[str, Any],
    score_threshold: float | None = None,
) -> Detections:
    """Detections of one image from its model outputs ``scores`` (C x H x W) and ``boxes`` (4 x H x W)."""
    threshold = float(spec.get("score_threshold", 0.3) if score_threshold is None else score_threshold)
    limit = int(spec.get("max_detections", 100))
    flat = scores.reshape(-1)
    candidates = np.flatnonzero(flat >= max(threshold, 1e-6))
    if candidates.size > 4 * limit:
        candidates = candidates[np.argpartition(-flat[candidates], 4 * limit)[: 4 * limit]]
    cells = scores.shape[1] * scores.shape[2]
    classes, positions = candidates // cells, candidates % cells
    picked_scores = flat[candidates].astype(np.float64)
    picked = boxes.reshape(4, -1)[:, positions].T.astype(np.float64)
    keep: list[np.ndarray] = []
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        keep.append(members[nms(picked[members], picked_scores[members], float(spec.get("nms_iou", 0.5)))])
    index = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    index = index[np.argsort(-picked_scores[index], kind="stable")][:limit]
    sx, sy = scale
    width, height = original_size
    out = picked[index] / np.asarray([sx, sy, sx, sy])
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height)
    return Detections(out, picked_scores[index], classes[index].astype(np.int64))


# One prepared image: its model input, letterbox scale and original size.
Prepared = tuple[np.ndarray, tuple[float, float], tuple[int, int]]


class DetectionPredictor(OnnxImagePredictor):
    """Loads ``model.onnx`` of an object detection package and finds the objects in image file bytes."""

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        outputs = self.spec.get("outputs") or {}
        self._outputs = [outputs.get("scores", "scores"), outputs.get("boxes", "boxes")]

    def prepare(self, payload: bytes) -> Prepared:
        """The model input (CHW float32) of one image file's bytes, its letterbox scale and original size."""
        image = decode_image(payload)
        canvas, scale = letterbox(image, self.spec)
        return normalize(canvas, self.spec), scale, image.size

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's ``scores`` and ``boxes`` of a preprocessed NCHW batch."""
        session = self.session
        scores, boxes = session.run(self._outputs, {self._input_name: batch.astype(np.float32, copy=False)})
        if scores.shape[1] != len(self.labels):
            raise PackageError(f"model gives {scores.shape[1]} class maps for {len(self.labels)} labels")
        return scores, boxes

    def detect_batch(self, payloads: list[bytes], score_threshold: float | None = None) -> list[Detections]:
        """Raw detections (original pixels, xyxy) of several images; ``score_threshold`` overrides the
        manifest's (the trainer uses a low one to compute mAP)."""
        return self.detect_prepared([self.prepare(p) for p in payloads], score_threshold) if payloads else []

    def detect_prepared(
        self, prepared: list[Prepared], score_threshold: float | None = None
    ) -> list[Detections]:
        """Raw detections of several prepared images, in one model run."""
        scores, boxes = self.run(np.stack([p[0] for p in prepared]))
        return [
            postprocess(scores[i], boxes[i], scale, size, self.spec, score_threshold)
            for i, (_, scale, size) in enumerate(prepared)
        ]

    def answer(self, found: Detections) -> dict[str, Any]:
        return {
            "detection_classes": [self.labels[int(c)] for c in found.classes],
            "detection_boxes": [[coordinate_text(b[k]) for k in (1, 0, 3, 2)] for b in found.boxes],
            "detection_scores": [score_text(s) for s in found.scores],
        }

    def predict_prepared(self, prepared: list[Prepared]) -> list[dict[str, Any]]:
        """Detect objects in several prepared images in one model run."""
        return [self.answer(found) for found in self.detect_prepared(prepared)]
