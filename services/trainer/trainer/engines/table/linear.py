"""The table engine's linear candidate: logistic regression / ridge over imputed, standardised numeric
columns (with missing indicators) and one-hot categories, exported as the NPZ that
:class:`shared.packages.table.LinearModel` evaluates with numpy (serving has no scikit-learn)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from shared.packages.table import LinearModel, TableSchema

__all__ = ["LinearFit", "fit_linear"]

MAX_ONE_HOT = 50  # the most frequent categories of a column get a column each; the rest share "other"


class LinearFit:
    """A fitted linear model: its encoding arrays and weights; ``values`` answers like the predictor."""

    def __init__(self, arrays: dict[str, np.ndarray], problem: str) -> None:
        self.arrays, self.problem = arrays, problem

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        a = self.arrays
        x = LinearModel.design(
            matrix, a["numeric"], a["median"], a["mean"], a["scale"], a["categorical"], a["sizes"]
        )
        return x @ a["coef"].T + a["intercept"]

    def values(self, matrix: np.ndarray) -> np.ndarray:
        raw = self.raw(matrix)
        if self.problem == "regression":
            return raw[:, 0]
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1 - p, p])
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        np.savez(path, **self.arrays)  # type: ignore[arg-type]  # mypy takes **arrays for allow_pickle too; its keys are array names


def fit_linear(
    schema: TableSchema, x: np.ndarray, y: np.ndarray, n_classes: int, c: float, seed: int
) -> LinearFit:
    """Fit on the encoded feature matrix ``x`` (the schema's encoding); ``c`` is the inverse regularisation."""
    from sklearn.linear_model import LogisticRegression, Ridge

    numeric = np.array(
        [i for i, col in enumerate(schema.features) if col["type"] == "numeric"], dtype=np.int64
    )
    categorical = np.array(schema.categorical_indices, dtype=np.int64)
    sizes = np.array(
        [min(len(schema.features[j].get("categories", [])), MAX_ONE_HOT) for j in categorical], dtype=np.int64
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN columns of a fold: their median is NaN, handled below
        median = np.nan_to_num(np.nanmedian(x[:, numeric], axis=0)) if len(numeric) else np.zeros(0)
    filled = np.where(np.isnan(x[:, numeric]), median, x[:, numeric])
    mean = filled.mean(axis=0) if len(numeric) else np.zeros(0)
    scale = filled.std(axis=0) if len(numeric) else np.zeros(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    design = LinearModel.design(x, numeric, median, mean, scale, categorical, sizes)
    if n_classes == 0:
        model = Ridge(alpha=1.0 / c).fit(design, y)
        coef, intercept = np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)
    else:
        model = LogisticRegression(C=c, max_iter=500, random_state=seed).fit(design, y)
        coef, intercept = _full_classes(model, n_classes)
    arrays = {
        "numeric": numeric,
        "median": median,
        "mean": mean,
        "scale": scale,
        "categorical": categorical,
        "sizes": sizes,
        "coef": coef,
        "intercept": intercept,
    }
    return LinearFit(arrays, "regression" if n_classes == 0 else "classification")


def _full_classes(model, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights for every class index (a class absent from a fold is never predicted)."""
    classes = model.classes_.astype(np.int64)
    if n_classes == 2 and len(classes) == 2:
        return model.coef_, model.intercept_  # one row: the logit of class 1
    coef = np.zeros((n_classes, model.coef_.shape[1]))
    intercept = np.full(n_classes, -30.0)
    if len(classes) == 2:  # a fold of a multi-class table holding two classes
        coef[classes[0]], coef[classes[1]] = -model.coef_[0] / 2, model.coef_[0] / 2
        intercept[classes[0]], intercept[classes[1]] = -model.intercept_[0] / 2, model.intercept_[0] / 2
    else:
        coef[classes], intercept[classes] = model.coef_, model.intercept_
    if n_classes == 2:  # binary table, but fold had one class: express as one logit row
        return (coef[1:] - coef[:1]), np.array([intercept[1] - intercept[0]])
    return coef, intercept
