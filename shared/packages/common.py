"""What the predictors share: an onnxruntime session with the serving thread count, softmax, the answer of
the sound and text classifiers, and how answers write numbers.

Answers write confidences and box coordinates as decimal strings, as the ExeML guide's examples do
(``"scores": [["sunflowers", "0.972"], …]``, ``"detection_scores": ["0.9998517"]``; ADR 0022): confidences
with :data:`SCORE_DECIMALS` decimals (the guide's image example), box coordinates in pixels with
:data:`BOX_DECIMALS`. The inference service turns them back into JSON numbers on request (``numbers=true``).

Imports only numpy and the standard library (onnxruntime lazily), as the rest of :mod:`shared.packages`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BOX_DECIMALS",
    "SCORE_DECIMALS",
    "THREADS_ENV",
    "classification_answer",
    "coordinate_text",
    "onnx_session",
    "score_text",
    "softmax",
]

# onnxruntime threads per session. One by default: serving scales with Triton model instances, and on a
# shared CPU spinning thread pools collapse (resnet18 here under load: 22 ms with 1 thread, 62–76 ms with 2).
THREADS_ENV = "EXEML_ORT_THREADS"
TOP_K = 5
SCORE_DECIMALS = 3  # "0.972", "0.000": the guide's image classification example
BOX_DECIMALS = 2  # pixels: a hundredth is below what any model resolves


def score_text(value: float) -> str:
    """A confidence as the answers write it: ``0.97183`` → ``"0.972"``."""
    return f"{float(value) + 0.0:.{SCORE_DECIMALS}f}"  # + 0.0: never "-0.000"


def coordinate_text(value: float) -> str:
    """A box coordinate (pixels) as the answers write it: ``60.8921`` → ``"60.89"``."""
    return f"{float(value) + 0.0:.{BOX_DECIMALS}f}"


def onnx_session(path: Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    """An ``onnxruntime.InferenceSession`` of the model file at ``path``, :data:`THREADS_ENV` threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get(THREADS_ENV) or 1)
    return ort.InferenceSession(str(path), options, providers=list(providers))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp: np.ndarray = np.exp(shifted)
    probabilities: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probabilities


def classification_answer(labels: list[str], probabilities: np.ndarray) -> dict[str, Any]:
    """``{"predicted_label", "score", "scores": [[label, score], ...]}`` with the top 5 scores, scores as
    decimal strings (:func:`score_text`)."""
    order = np.argsort(-probabilities, kind="stable")
    best = int(order[0])
    return {
        "predicted_label": labels[best],
        "score": score_text(probabilities[best]),
        "scores": [[labels[int(i)], score_text(probabilities[int(i)])] for i in order[:TOP_K]],
    }
