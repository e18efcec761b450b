"""The predict answer with JSON numbers, for API clients that ask for them (``numbers=true``).

The canonical answer writes confidences and box coordinates as decimal strings, as the ExeML guide's examples
do (ADR 0022): image, sound and text ``scores`` pairs and sound/text ``score`` (``"0.972"``), detection
``detection_scores`` and ``detection_boxes`` (``["60.89", "268.44", "652.69", "806.91"]``). This is the one
place that turns them into numbers, from the canonical answer, whatever the predictor: the values are equal
(``float("0.972") == 0.972``), only their JSON type changes. Table answers (ModelArts' table format, numbers
already) and any other key are left as they are.
"""

from __future__ import annotations

from typing import Any

__all__ = ["with_numbers"]


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) else value


def with_numbers(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with its confidences and box coordinates as JSON numbers (a new dict; the rest unchanged)."""
    out = dict(answer)
    if "score" in out:
        out["score"] = _number(out["score"])
    if isinstance(out.get("scores"), list):
        out["scores"] = [[label, _number(score)] for label, score in out["scores"]]
    if isinstance(out.get("detection_scores"), list):
        out["detection_scores"] = [_number(score) for score in out["detection_scores"]]
    if isinstance(out.get("detection_boxes"), list):
        out["detection_boxes"] = [[_number(v) for v in box] for box in out["detection_boxes"]]
    return out
