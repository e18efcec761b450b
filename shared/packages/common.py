"""What the predictors share: an onnxruntime session with the serving thread count, softmax, and the
answer of the sound and text classifiers.

Imports only numpy and the standard library (onnxruntime lazily), as the rest of :mod:`shared.packages`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["THREADS_ENV", "classification_answer", "onnx_session", "softmax"]

# onnxruntime threads per session. One by default: serving scales with Triton model instances, and on a
# shared CPU spinning thread pools collapse (resnet18 here under load: 22 ms with 1 thread, 62–76 ms with 2).
THREADS_ENV = "EXEML_ORT_THREADS"
TOP_K = 5


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
    """``{"predicted_label", "score", "scores": [[label, score], ...]}`` with the top 5 scores."""
    order = np.argsort(-probabilities, kind="stable")
    best = int(order[0])
    return {
        "predicted_label": labels[best],
        "score": float(probabilities[best]),
        "scores": [[labels[int(i)], float(probabilities[int(i)])] for i in order[:TOP_K]],
    }
