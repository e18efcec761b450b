"""Evaluation metrics on the validation split, computed with scikit-learn.

Classification: accuracy, macro precision/recall/F1, per-class precision/recall/F1/support, the confusion
matrix (rows = true label, columns = predicted, in ``labels`` order) — the seed's "classification
statistics". Regression: MAE, MSE, RMSE, R².
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

__all__ = ["classification_metrics", "regression_metrics"]


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any]
) -> dict[str, Any]:
    labels = list(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    if not y_true:
        raise ValueError("no validation samples to evaluate")
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    macro = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(macro[0]),
        "recall": float(macro[1]),
        "f1": float(macro[2]),
        "per_class": [
            {
                "label": str(label),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        ],
        "confusion_matrix": {"labels": [str(x) for x in labels], "matrix": matrix.astype(int).tolist()},
        "eval_count": len(y_true),
    }


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, Any]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.size == 0:
        raise ValueError("no validation samples to evaluate")
    mse = float(skm.mean_squared_error(t, p))
    return {
        "mae": float(skm.mean_absolute_error(t, p)),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": float(skm.r2_score(t, p)) if t.size > 1 else 0.0,
        "eval_count": int(t.size),
    }
