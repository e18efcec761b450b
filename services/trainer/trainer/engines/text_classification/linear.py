"""The text engine's linear candidates over TF-IDF blocks: logistic regression, NB-SVM (Wang & Manning 2012:
logistic regression on features scaled by the naive Bayes log-count ratio, folded back into the weights)
and complement naive Bayes. Each is a weight matrix over the block columns, so serving needs numpy only
(:class:`shared.packages.text.TextPredictor`, kind ``tfidf_linear``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages.common import softmax

__all__ = [
    "BLOCKS",
    "BlockSpec",
    "LinearSpec",
    "Weights",
    "calibrate",
    "export_blocks",
    "fit_blocks",
    "fit_weights",
]

TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(8.0), 25))


@dataclass(frozen=True)
class BlockSpec:
    analyzer: str  # "char" | "word"
    ngram_range: tuple[int, int]
    sublinear_tf: bool = True

    @property
    def name(self) -> str:
        return f"{self.analyzer}{self.ngram_range[0]}-{self.ngram_range[1]}" + (
            "" if self.sublinear_tf else "-raw"
        )


BLOCKS = {
    "char1-3-raw": BlockSpec("char", (1, 3), sublinear_tf=False),  # the classic baseline's features
    "char1-3": BlockSpec("char", (1, 3)),
    "char1-4": BlockSpec("char", (1, 4)),
    "char2-5": BlockSpec("char", (2, 5)),
    "word1-2": BlockSpec("word", (1, 2)),
}


@dataclass(frozen=True)
class LinearSpec:
    model: str  # "lr" | "nbsvm" | "cnb"
    c: float  # inverse regularisation (lr, nbsvm) or smoothing alpha (cnb)
    blocks: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{'+'.join(self.blocks)}-{self.model}-{self.c:g}"


@dataclass
class Weights:
    """A fitted linear model: ``softmax((x @ coef.T + intercept) / temperature)``."""

    coef: np.ndarray  # classes x columns
    intercept: np.ndarray
    temperature: float = 1.0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, x: Any) -> np.ndarray:
        return softmax(np.asarray(x @ self.coef.T + self.intercept) / self.temperature)


def fit_blocks(names: Sequence[str], texts: list[str], min_df: int) -> dict[str, Any]:
    """The TF-IDF vectorizers of ``names`` fit on ``texts``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = {}
    for name in names:
        spec = BLOCKS[name]
        out[name] = TfidfVectorizer(
            analyzer=spec.analyzer,
            ngram_range=spec.ngram_range,
            lowercase=True,
            sublinear_tf=spec.sublinear_tf,
            min_df=min_df,
            max_features=300_000,
            dtype=np.float64,
        ).fit(texts)
    return out


def fit_weights(spec: LinearSpec, x: Any, y: np.ndarray, n_classes: int, seed: int) -> Weights:
    started = time.monotonic()
    if spec.model == "cnb":
        from sklearn.naive_bayes import ComplementNB

        model = ComplementNB(alpha=spec.c).fit(x, y)
        coef = np.zeros((n_classes, x.shape[1]))
        coef[model.classes_] = model.feature_log_prob_
        weights = Weights(coef, np.where(np.isin(np.arange(n_classes), model.classes_), 0.0, -30.0))
    elif spec.model == "nbsvm":
        weights = _nbsvm(x, y, n_classes, spec.c, seed)
    else:
        weights = _logistic(x, y, n_classes, spec.c, seed)
    weights.seconds = time.monotonic() - started
    return weights


def calibrate(weights: Weights, x: Any, y: np.ndarray) -> float:
    """The temperature that minimises the validation log loss (complement NB's scores are far too sharp);
    returns that log loss."""
    logits = np.asarray(x @ weights.coef.T + weights.intercept)
    losses = [_log_loss(softmax(logits / t), y) for t in TEMPERATURES]
    best = int(np.argmin(losses))
    weights.temperature = float(TEMPERATURES[best])
    return float(losses[best])


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0))))


def _logistic(x: Any, y: np.ndarray, n_classes: int, c: float, seed: int) -> Weights:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(x, y)
    return _full(model.classes_, model.coef_, model.intercept_, n_classes)


def _nbsvm(x: Any, y: np.ndarray, n_classes: int, c: float, seed: int, alpha: float = 1.0) -> Weights:
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros((n_classes, x.shape[1]))
    intercept = np.full(n_classes, -30.0)
    present = np.unique(y)
    targets = present[1:] if len(present) == 2 else present  # binary: one model, the logit of the second
    for k in targets:
        mine = np.asarray(x[y == k].sum(axis=0)).ravel() + alpha
        rest = np.asarray(x[y != k].sum(axis=0)).ravel() + alpha
        r = np.log((mine / mine.sum()) / (rest / rest.sum()))
        model = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(x.multiply(r).tocsr(), y == k)
        coef[k], intercept[k] = model.coef_[0] * r, model.intercept_[0]
    if len(present) == 2:  # softmax([-z/2, z/2]) == sigmoid(z)
        z_coef, z_int = coef[present[1]].copy(), intercept[present[1]]
        coef[present[0]], coef[present[1]] = -z_coef / 2, z_coef / 2
        intercept[present[0]], intercept[present[1]] = -z_int / 2, z_int / 2
    return Weights(coef, intercept)


def _full(classes: np.ndarray, coef: np.ndarray, intercept: np.ndarray, n_classes: int) -> Weights:
    """Weights for every class index (a class without training texts is never predicted)."""
    full, bias = np.zeros((n_classes, coef.shape[1])), np.full(n_classes, -30.0)
    if len(classes) == 2:  # binary: one weight row; softmax([-z/2, z/2]) == sigmoid(z)
        full[classes[0]], full[classes[1]] = -coef[0] / 2, coef[0] / 2
        bias[classes[0]], bias[classes[1]] = -intercept[0] / 2, intercept[0] / 2
    else:
        full[classes], bias[classes] = coef, intercept
    return Weights(full, bias)


def export_blocks(
    vectorizers: dict[str, Any], folder: Path
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, np.ndarray]]:
    """Block specs for the manifest, their vocabulary artifacts and idf arrays (``idf_<i>``)."""
    import json

    blocks, artifacts, arrays = [], {}, {}
    for i, (name, vectorizer) in enumerate(vectorizers.items()):
        spec = BLOCKS[name]
        vocabulary = [""] * len(vectorizer.vocabulary_)
        for gram, column in vectorizer.vocabulary_.items():
            vocabulary[column] = gram
        role = f"vocabulary_{i}"
        artifacts[role] = f"{role}.json"
        (folder / artifacts[role]).write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        arrays[f"idf_{i}"] = vectorizer.idf_
        blocks.append(
            {
                "name": name,
                "analyzer": spec.analyzer,
                "ngram_range": list(spec.ngram_range),
                "lowercase": True,
                "sublinear_tf": spec.sublinear_tf,
                "norm": "l2",
                "vocabulary": role,
            }
        )
    return blocks, artifacts, arrays
