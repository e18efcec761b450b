"""The sound engine's plan: what to train, decided from the data, the machine and measured costs.

Statistics models (logistic regression, LightGBM on clip statistics) always come first: they take seconds
and are strong on small datasets. The network (a CNN on log-mel windows) is added when the preference allows
it and the budget left after them buys enough epochs, counted from the *measured* cost of a training step
of each width on this machine (a GPU, when there is one, makes steps cheap and lets a larger one in): the
largest network that gets :data:`GOOD_EPOCHS` epochs, else the smallest that gets :data:`MIN_EPOCHS`, else
none. Incremental training keeps the previous network's width and needs only :data:`WARM_EPOCHS`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NETWORKS", "NetworkChoice", "choose_network"]

# widths tried per preference, smallest first; performance_first serves the fastest: statistics models only
NETWORKS: dict[str, tuple[str, ...]] = {
    "performance_first": (),
    "balance": ("cnn-small", "cnn-medium"),
    "accuracy_first": ("cnn-small", "cnn-medium", "cnn-large"),
}
# Epochs matter more than width on a few hundred clips (6 generated words, 192 training clips, held-out voices):
# cnn-small after 53 epochs 0.96 validation / 0.98 test accuracy, cnn-medium after 43 epochs 0.35, cnn-small
# after 24 epochs 0.13 (it stays at chance for ~15 epochs, then climbs: 0.58 at 21, 0.92 at 31).
GOOD_EPOCHS = 80
MIN_EPOCHS = 12
WARM_EPOCHS = 2
MAX_EPOCHS = 120


@dataclass
class NetworkChoice:
    """The network to train (``name`` None: none) with its epoch budget, and what was measured."""

    name: str | None
    epochs: int
    seconds: float
    measured: list[dict[str, Any]] = field(default_factory=list)
    why: str = ""


def _epochs(
    seconds: float, step: float, window: float, n_train: int, n_valid_windows: int, batch: int
) -> int:
    epoch = math.ceil(n_train / batch) * step + n_valid_windows * window
    return max(0, int(seconds / max(epoch, 1e-6)))


def choose_network(
    names: tuple[str, ...],
    seconds: float,
    measure: Any,
    n_train: int,
    n_valid_windows: int,
    batch: int,
    least: int | None = None,
    warm: bool = False,
) -> NetworkChoice:
    """The largest of ``names`` that gets :data:`GOOD_EPOCHS` in ``seconds`` (``measure(name)`` gives its
    seconds per step and per evaluated window), else the smallest that gets ``least`` epochs (default
    :data:`MIN_EPOCHS`, or :data:`WARM_EPOCHS` when ``warm``)."""
    measured, affordable = [], {}
    for candidate in names:
        step, window = measure(candidate)
        affordable[candidate] = _epochs(seconds, step, window, n_train, n_valid_windows, batch)
        measured.append(
            {
                "name": candidate,
                "step_ms": round(1000 * step, 2),
                "window_ms": round(1000 * window, 3),
                "epochs_affordable": affordable[candidate],
            }
        )
        if affordable[candidate] < GOOD_EPOCHS:
            break  # larger ones cost more per step: they would get fewer
    least = least if least is not None else WARM_EPOCHS if warm else MIN_EPOCHS
    good = [n for n in names if affordable.get(n, 0) >= (least if warm else GOOD_EPOCHS)]
    name = good[-1] if good else (names[0] if affordable[names[0]] >= least else None)
    if name is None:
        why = (
            f"{names[0]} would get {affordable[names[0]]} epochs in {seconds:.0f} s (< {least}): "
            "statistics models only"
        )
        return NetworkChoice(None, 0, seconds, measured, why)
    epochs = max(1, min(MAX_EPOCHS, affordable[name]))
    why = (
        f"{name}: {affordable[name]} epochs affordable in {seconds:.0f} s on "
        f"{'a GPU' if _gpu() else f'{os.cpu_count()} CPU cores'}"
    )
    return NetworkChoice(name, epochs, seconds, measured, why)


def _gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())
