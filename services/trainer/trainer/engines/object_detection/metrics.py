"""Detection metrics on the validation split.

* ``map`` (mAP@0.5:0.95, COCO's 101-point interpolation averaged over IoU 0.50:0.05:0.95), ``map_50``,
  ``map_75`` and per-class AP: pycocotools' rules in numpy (:func:`mean_average_precision`) on the
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


COCO_IOUS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100  # per image and class, as COCO's maxDets


def mean_average_precision(
    detections: Sequence[Any], truths: Sequence[Truth], num_classes: int
) -> dict[str, Any]:
    """COCO mAP of ``detections`` (objects with ``boxes``, ``scores``, ``classes``) against ``truths``.

    numpy, pycocotools' rules (bbox, area "all", no crowd boxes): per class and IoU threshold, detections of
    all images ranked by score (at most 100 per image and class), each matched greedily to the unmatched
    true box of its image it overlaps most (IoU >= threshold); precision made non-increasing, sampled at
    101 recall points. A class without true boxes is left out of the means (-1 in COCO, 0 here when none
    has any). Same numbers as ``torchmetrics``' pycocotools backend, without its seconds of import.
    """
    ap = np.full((len(COCO_IOUS), num_classes), -1.0)
    for c in range(num_classes):
        scores_all, hits_all, n_true = [], [], 0
        for det, truth in zip(detections, truths, strict=True):
            true = truth.boxes[truth.classes == c]
            n_true += len(true)
            cls = np.asarray(det.classes, dtype=np.int64).reshape(-1)
            mine = np.flatnonzero(cls == c)
            if mine.size == 0:
                continue
            scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)[mine]
            order = np.argsort(-scores, kind="mergesort")[:MAX_DETECTIONS]
            boxes = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4)[mine][order]
            ious = iou_matrix(boxes, true)
            hits = np.zeros((len(COCO_IOUS), len(order)), dtype=bool)
            for t, threshold in enumerate(COCO_IOUS):
                taken = np.zeros(len(true), dtype=bool)
                for d in range(len(order)):
                    if not len(true):
                        break
                    free = np.where(taken, -1.0, ious[d])
                    best = int(free.argmax())
                    if free[best] >= threshold - 1e-10:
                        taken[best] = True
                        hits[t, d] = True
            scores_all.append(scores[order])
            hits_all.append(hits)
        if n_true == 0:
            continue
        if not scores_all:
            ap[:, c] = 0.0
            continue
        scores = np.concatenate(scores_all)
        hits = np.concatenate(hits_all, axis=1)
        rank = np.argsort(-scores, kind="mergesort")
        for t in range(len(COCO_IOUS)):
            tp = np.cumsum(hits[t, rank])
            fp = np.cumsum(~hits[t, rank])
            recall = tp / n_true
            precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
            precision = np.maximum.accumulate(precision[::-1])[::-1]
            at = np.searchsorted(recall, RECALL_POINTS, side="left")
            sampled = np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)
            ap[t, c] = float(sampled.mean())
    valid = ap[0] >= 0
    per_class = {c: float(ap[:, c].mean()) if valid[c] else 0.0 for c in range(num_classes)}
    per_class50 = {c: float(ap[0, c]) if valid[c] else 0.0 for c in range(num_classes)}
    if not valid.any():
        return {
            "map": 0.0,
            "map_50": 0.0,
            "map_75": 0.0,
            "ap_per_class": per_class,
            "ap50_per_class": per_class50,
        }
    return {
        "map": float(ap[:, valid].mean()),
        "map_50": float(ap[0, valid].mean()),
        "map_75": float(ap[5, valid].mean()),
        "ap_per_class": per_class,
        "ap50_per_class": per_class50,
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
        for missed in np.flatnonzero(free_truth):
            matrix[truth.classes[missed], bg] += 1
        for spurious in np.flatnonzero(free_det):
            matrix[bg, classes[spurious]] += 1
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
