"""A service's prediction turned into suggested annotations and an uncertainty (margin sampling).

The answer is the service's canonical one: confidences and box coordinates are decimal strings (``"0.972"``,
ADR 0022); they are read as numbers here, and numbers are read as well."""

from __future__ import annotations

from typing import Any

from labeling.rules import OBJECT_DETECTION

__all__ = ["suggestion_from_answer"]


def _margin_uncertainty(scores: list[float]) -> float:
    """1 − (best − second best): a sample the model hesitates on comes first."""
    ranked = sorted(scores, reverse=True) + [0.0, 0.0]
    return round(min(1.0, max(0.0, 1.0 - (ranked[0] - ranked[1]))), 6)


def _classification(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    pairs = [(str(label), float(score)) for label, score in answer.get("scores") or []]
    label = str(answer["predicted_label"])
    best = float(answer["score"]) if "score" in answer else dict(pairs).get(label, 0.0)
    scores = [s for _, s in pairs] or [best]
    return [{"name": label, "score": round(best, 6), "bndbox": None}], _margin_uncertainty(scores)


def _clip(value: float, high: int | None) -> float:
    return max(0.0, value if high is None else min(float(high), value))


def _detection(
    answer: dict[str, Any], width: int | None, height: int | None, min_score: float
) -> tuple[list[dict[str, Any]], float]:
    out: list[dict[str, Any]] = []
    for name, box, score in zip(
        answer["detection_classes"], answer["detection_boxes"], answer["detection_scores"], strict=True
    ):
        y_min, x_min, y_max, x_max = (float(v) for v in box)
        bndbox = {
            "xmin": _clip(x_min, width),
            "ymin": _clip(y_min, height),
            "xmax": _clip(x_max, width),
            "ymax": _clip(y_max, height),
        }
        if float(score) >= min_score and bndbox["xmax"] > bndbox["xmin"] and bndbox["ymax"] > bndbox["ymin"]:
            out.append({"name": str(name), "score": round(float(score), 6), "bndbox": bndbox})
    out.sort(key=lambda p: -p["score"])
    uncertainty = 1.0 - sum(p["score"] for p in out) / len(out) if out else 1.0
    return out, round(uncertainty, 6)


def suggestion_from_answer(
    dataset_type: int,
    answer: dict[str, Any],
    *,
    width: int | None = None,
    height: int | None = None,
    min_box_score: float = 0.3,
) -> tuple[list[dict[str, Any]], float]:
    """``(predictions, uncertainty)`` from a service's documented answer for one sample."""
    if dataset_type == OBJECT_DETECTION:
        return _detection(answer, width, height, min_box_score)
    return _classification(answer)
