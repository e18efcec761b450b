"""The detection engine's candidates, constants and plan: which network, at which input size, for how long.

The plan is made from measurement (:func:`choose`): the images' own size sets the input size (their median
longer side to the nearest multiple of 32, at least 64, at most :data:`SCRATCH_MAX_SIZE` for the
from-scratch networks), and a size :data:`SMALLER` below it is a candidate too for the narrowest network
when the small boxes stay at least :data:`MIN_BOX_PX` there; one training step of each candidate is timed
on the training canvases; the widest candidate that gets :data:`MIN_EPOCHS` epochs in the time left is
trained (else the one that gets the most: on short budgets, the smaller input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BATCH_SIZE",
    "MAX_EPOCHS",
    "MIN_BOX_PX",
    "MIN_EPOCHS",
    "PAD_VALUE",
    "PORTFOLIO",
    "SCORE_THRESHOLD",
    "SCRATCH_MAX_SIZE",
    "SELECTION_EVAL_IMAGES",
    "SMALLER",
    "TIMM_PORTFOLIO",
    "Candidate",
    "Plan",
    "choose",
    "preprocessing_spec",
]

# Preference → from-scratch candidates (backbone, neck channels), widest first. Measured on 2 shared cores,
# one thread, batch 16 (ms per training step at 64 / 160 px): scratch8 (32) 30 / 160, scratch16 (32) 41 / 240,
# scratch24 (48) 83 / 530.
PORTFOLIO: dict[str, list[tuple[str, int]]] = {
    "performance_first": [("scratch8", 32)],
    "balance": [("scratch16", 32), ("scratch8", 32)],
    "accuracy_first": [("scratch24", 48), ("scratch16", 32), ("scratch8", 32)],
}
# timm backbones (backbone, largest input size, neck channels): candidates only with their weights in
# EXEML_PRETRAINED_DIR or on a GPU — from random weights on a CPU they do not learn within minutes.
TIMM_PORTFOLIO: dict[str, list[tuple[str, int, int]]] = {
    "performance_first": [("resnet10t", 320, 64), ("lcnet_050", 256, 48)],
    "balance": [("resnet18d", 416, 64), ("resnet10t", 320, 64)],
    "accuracy_first": [("resnet34d", 512, 96), ("resnet18d", 416, 64)],
}
SCRATCH_MAX_SIZE = 320
SMALLER = 0.8  # the smaller input candidate: this share of the native size (1.56 times the images a second)
MIN_BOX_PX = 8.0  # ... when the 10th-percentile box side stays this large there (2 heat-map cells)
MAX_EPOCHS = {"performance_first": 150, "balance": 300, "accuracy_first": 500}
MIN_EPOCHS = 60  # a wider network is planned only when it gets this many epochs
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


@dataclass
class Plan:
    """The chosen candidate and why, with what was measured (written into ``EngineResult.plan``)."""

    candidate: Candidate
    epochs: int
    batch: int
    train_seconds: float
    why: str
    measured: list[dict[str, Any]] = field(default_factory=list)
    # The preference's cap: training follows the clock up to it (``epochs`` is the estimate).
    epoch_cap: int = 0


def choose(
    candidates: list[Candidate],
    step_seconds: dict[Candidate, float],
    train_seconds: float,
    n_train: int,
    batch: int,
    max_epochs: int,
) -> Plan:
    """The widest candidate (``candidates`` come widest first) that gets :data:`MIN_EPOCHS` epochs in
    ``train_seconds``, else the one that gets the most; epochs capped at ``max_epochs``."""
    steps_per_epoch = max(1, -(-n_train // batch))
    measured: list[dict[str, Any]] = []
    for c in candidates:
        epoch_seconds = step_seconds[c] * steps_per_epoch
        measured.append(
            {
                "candidate": c.name,
                "step_ms": round(1000 * step_seconds[c], 1),
                "epoch_s": round(epoch_seconds, 3),
                "epochs_in_budget": int(max(0.0, train_seconds) / max(epoch_seconds, 1e-9)),
            }
        )
    fits = [m for m in measured if m["epochs_in_budget"] >= MIN_EPOCHS]
    pick = fits[0] if fits else max(measured, key=lambda m: m["epochs_in_budget"])
    chosen = candidates[measured.index(pick)]
    epochs = max(1, min(max_epochs, pick["epochs_in_budget"]))
    why = (
        f"{chosen.name}: {pick['epochs_in_budget']} epochs of {n_train} images fit in {train_seconds:.0f} s "
        + (
            f"(the widest with at least {MIN_EPOCHS})"
            if fits
            else f"(none gets {MIN_EPOCHS}: the one that trains most)"
        )
        + (f", capped at {max_epochs}" if epochs < pick["epochs_in_budget"] else "")
    )
    return Plan(chosen, epochs, batch, train_seconds, why, measured, max_epochs)


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
