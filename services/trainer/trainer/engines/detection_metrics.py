"""Detection metrics on the validation split.

* ``map`` (mAP@0.5:0.95, COCO's 101-point interpolation averaged over IoU 0.50:0.05:0.95), ``map_50``,
  ``map_75`` and per-class AP: torchmetrics' ``MeanAveragePrecision`` (pycocotools backend) on the
  detections above a low score threshold (:data:`MAP_SCORE_THRESHOLD`), as COCO evaluation does;
* the seed's statistics at the package's serving ``score_threshold`` (what the deployed service answers):
  a detection is correct when it overlaps an unmatched true box of *its own class* with IoU >= 0.5
  (greedy, best score first). Per class: precision = correct / detections of the class, recall =
  correct / true boxes of the class, F1; overall ``precision``/``recall``/``f1`` are their macro means
  over the classes present in the validation split (true boxes or detections);
* a confusion table over ``labels + ["background"]`` (rows = truth, columns = detection): after the
  same-class matching, leftover detections are matched to leftover true boxes of another class (IoU >= 0.5)
  — a misclassification —, true boxes left are a miss (column background), detections left a false alarm
  (row background). ``accuracy`` = the diagonal over all entries: correct detections / (true boxes +
  detections that overlap no true box).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAP_SCORE_THRESHOLD", "Truth", "detection_metrics", "iou_matrix", "mean_average_precision"]

MAP_SCORE_THRESHOLD = 0.01
MATCH_IOU = 0.5


class Truth:
    """True boxes of one image: ``boxes`` (K x 4 xyxy, original pixels) and ``classes`` (K label indices)."""

    __slots__ = ("boxes", "classes")

    def __init__(self, boxes: np.ndarray, classes: np.ndarray) -> None:
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.classes = np.asarray(classes, dtype=np.int64).reshape(-1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N x 4 xyxy) with every box of ``b`` (M x 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def mean_average_precision(
    detections: Sequence[Any], truths: Sequence[Truth], num_classes: int
) -> dict[str, Any]:
    """COCO mAP of ``detections`` (objects with ``boxes``, ``scores``, ``classes``) against ``truths``."""
    import torch
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", class_metrics=True, backend="pycocotools")
    preds = [
        {
            "boxes": torch.as_tensor(np.asarray(d.boxes, dtype=np.float32).reshape(-1, 4)),
            "scores": torch.as_tensor(np.asarray(d.scores, dtype=np.float32).reshape(-1)),
            "labels": torch.as_tensor(np.asarray(d.classes, dtype=np.int64).reshape(-1)),
        }
        for d in detections
    ]
    target = [
        {"boxes": torch.as_tensor(t.boxes, dtype=torch.float32), "labels": torch.as_tensor(t.classes)}
        for t in truths
    ]
    metric.update(preds, target)
    result = metric.compute()
    per_class: dict[int, float] = {}
    classes = result["classes"].reshape(-1).tolist()
    values = result["map_per_class"].reshape(-1).tolist()
    per_class = {int(c): float(v) for c, v in zip(classes, values)}
    # AP@0.5 per class: one more pass at that IoU only.
    metric50 = MeanAveragePrecision(
        iou_type="bbox", class_metrics=True, iou_thresholds=[0.5], backend="pycocotools"
    )
    metric50.update(preds, target)
    result50 = metric50.compute()
    per_class50 = {
        int(c): float(v)
        for c, v in zip(
            result50["classes"].reshape(-1).tolist(), result50["map_per_class"].reshape(-1).tolist()
        )
    }
    return {
        "map": max(0.0, float(result["map"])),
        "map_50": max(0.0, float(result["map_50"])),
        "map_75": max(0.0, float(result["map_75"])),
        "ap_per_class": {c: max(0.0, per_class.get(c, 0.0)) for c in range(num_classes)},
        "ap50_per_class": {c: max(0.0, per_class50.get(c, 0.0)) for c in range(num_classes)},
    }


def _greedy(ious: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (detection, truth), detections in the given order, each taking its best free truth."""
    pairs, taken = [], np.zeros(ious.shape[1], dtype=bool)
    for d in range(ious.shape[0]):
        candidates = np.where(allowed[d] & ~taken & (ious[d] >= MATCH_IOU), ious[d], -1.0)
        if candidates.size and candidates.max() >= MATCH_IOU:
            t = int(candidates.argmax())
            taken[t] = True
            pairs.append((d, t))
    return pairs


def confusion(
    detections: Sequence[Any], truths: Sequence[Truth], num_classes: int, threshold: float
) -> np.ndarray:
    """(C+1) x (C+1) counts, rows = truth, columns = detection, index C = background."""
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    bg = num_classes
    for det, truth in zip(detections, truths):
        keep = np.asarray(det.scores) >= threshold
        order = np.argsort(-np.asarray(det.scores)[keep], kind="stable")
        boxes = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)[keep][order]
        classes = np.asarray(det.classes, dtype=np.int64)[keep][order]
        ious = iou_matrix(boxes, truth.boxes)
        same = classes[:, None] == truth.classes[None, :]
        free_det = np.ones(len(boxes), dtype=bool)
        free_truth = np.ones(len(truth.boxes), dtype=bool)
        for d, t in _greedy(ious, same):
            matrix[truth.classes[t], classes[d]] += 1
            free_det[d] = free_truth[t] = False
        other = free_det[:, None] & free_truth[None, :]
        for d, t in _greedy(ious, other):
            if free_det[d] and free_truth[t]:
                matrix[truth.classes[t], classes[d]] += 1
                free_det[d] = free_truth[t] = False
        for t in np.flatnonzero(free_truth):
            matrix[truth.classes[t], bg] += 1
        for d in np.flatnonzero(free_det):
            matrix[bg, classes[d]] += 1
    return matrix


def detection_metrics(
    detections: Sequence[Any], truths: Sequence[Truth], labels: Sequence[str], score_threshold: float
) -> dict[str, Any]:
    """Every reported metric of ``detections`` (low-threshold, original pixels) against ``truths``."""
    if not truths:
        raise ValueError("no validation images to evaluate")
    n = len(labels)
    ap = mean_average_precision(detections, truths, n)
    matrix = confusion(detections, truths, n, score_threshold)
    per_class = []
    for c, label in enumerate(labels):
        correct = int(matrix[c, c])
        predicted = int(matrix[:, c].sum())
        support = int(matrix[c, :].sum())
        precision = correct / predicted if predicted else 0.0
        recall = correct / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "label": str(label),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": support,
                "detections": predicted,
                "ap_50": ap["ap50_per_class"][c],
                "ap": ap["ap_per_class"][c],
            }
        )
    present = [p for p in per_class if p["support"] or p["detections"]] or per_class
    total = int(matrix.sum())
    return {
        "map": ap["map"],
        "map_50": ap["map_50"],
        "map_75": ap["map_75"],
        "accuracy": float(np.trace(matrix[:n, :n]) / total) if total else 0.0,
        "precision": float(np.mean([p["precision"] for p in present])),
        "recall": float(np.mean([p["recall"] for p in present])),
        "f1": float(np.mean([p["f1"] for p in present])),
        "per_class": per_class,
        "confusion_matrix": {"labels": [*map(str, labels), "background"], "matrix": matrix.tolist()},
        "score_threshold": score_threshold,
        "match_iou": MATCH_IOU,
        "eval_count": len(truths),
        "object_count": int(sum(len(t.classes) for t in truths)),
    }
