"""Classical candidates on clip statistics: logistic regression and LightGBM, written as package artifacts.

Their settings are chosen on the *training* clips (the regression's regularisation by stratified
cross-validation, LightGBM's number of rounds by early stopping on an inner split, then a refit on all training
clips): the validation clips only compare the finished models, so a model's validation score is not the best
of many tries on them (on shuffled labels, early stopping on the validation clips gave LightGBM 0.5 accuracy
on 32 clips of 4 classes). Each model is written as its artifact and scored on validation by the predictor's
own class (:class:`shared.packages.sound.LinearModel` / ``BoostedModel``): what is compared is what serving
computes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages.sound import LinearModel, load_model

__all__ = ["Fitted", "fit_boosted", "fit_linear", "scores"]

LINEAR_C = (0.03, 0.3, 3.0)  # inverse regularisation strengths tried (standardised features)
FOLDS = 4
BOOSTED_PARAMS: dict[str, Any] = {
    "learning_rate": 0.08,
    "num_leaves": 15,
    "min_data_in_leaf": 4,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    "min_data_in_bin": 1,
    "verbosity": -1,
    "num_threads": 1,
}
# One thread: on two busy cores LightGBM's OpenMP threads made a 200-round fit 17 times slower than one thread
# (215 s vs 13 s measured under load).
BOOSTED_ROUNDS = 400
BOOSTED_PATIENCE = 30


@dataclass
class Fitted:
    """A trained model: its artifact (role and file) and its validation probabilities."""

    name: str
    role: str  # "linear" | "boosted" | "model"
    path: Path
    valid_probabilities: np.ndarray
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def scores(probabilities: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean log-loss) of ``[n, classes]`` probabilities."""
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y))
    picked = np.clip(probabilities[np.arange(y.shape[0]), y], 1e-12, 1.0)
    return accuracy, float(-np.mean(np.log(picked)))


def _folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the training clips (none when a class has a single clip)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
    if smallest < 2:
        return []
    return list(StratifiedKFold(min(FOLDS, smallest), shuffle=True, random_state=seed).split(y, y))


def _linear_arrays(
    x: np.ndarray, y: np.ndarray, n_classes: int, c: float, seed: int
) -> dict[str, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit((x - mean) / scale, y)
    coef, intercept = np.zeros((n_classes, x.shape[1])), np.full(n_classes, -30.0)  # absent classes: never
    if len(model.classes_) == 2:  # binary: one weight row; softmax([-z/2, z/2]) == sigmoid(z)
        low, high = model.classes_
        coef[low], coef[high] = -model.coef_[0] / 2, model.coef_[0] / 2
        intercept[low], intercept[high] = -model.intercept_[0] / 2, model.intercept_[0] / 2
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    return {"mean": mean, "scale": scale, "coef": coef, "intercept": intercept}


def _cv_log_loss(x: np.ndarray, y: np.ndarray, n_classes: int, c: float, seed: int, folds: list) -> float:
    losses = []
    for fit, held in folds:
        probabilities = LinearModel(_linear_arrays(x[fit], y[fit], n_classes, c, seed)).probabilities(x[held])
        losses.append(scores(probabilities, y[held])[1])
    return float(np.mean(losses))


def fit_linear(
    x: np.ndarray, y: np.ndarray, x_valid: np.ndarray, n_classes: int, folder: Path, seed: int
) -> tuple[Fitted, list[dict[str, Any]]]:
    """Logistic regression with the C of :data:`LINEAR_C` of least cross-validated log-loss on the training
    clips, refitted on all of them; and each C's cross-validated log-loss."""
    started = time.monotonic()
    folds = _folds(y, seed)
    tried = [
        {"C": c, "cv_log_loss": round(_cv_log_loss(x, y, n_classes, c, seed, folds), 5)}
        for c in (LINEAR_C if folds else ())
    ]
    c = min(tried, key=lambda t: t["cv_log_loss"])["C"] if tried else LINEAR_C[1]
    path = folder / "linear" / "linear.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **_linear_arrays(x, y, n_classes, c, seed))  # type: ignore[arg-type]  # mypy takes **arrays for allow_pickle too; its keys are array names
    probabilities = load_model("linear", path, {}).probabilities(x_valid)
    fitted = Fitted(
        f"mfcc-stats+logreg(C={c:g})",
        "linear",
        path,
        probabilities,
        time.monotonic() - started,
        {"C": c, "folds": len(folds)},
    )
    return fitted, tried


def _boosted_params(n_classes: int, seed: int) -> dict[str, Any]:
    objective = (
        {"objective": "binary"} if n_classes == 2 else {"objective": "multiclass", "num_class": n_classes}
    )
    return {**BOOSTED_PARAMS, **objective, "seed": seed}


def _rounds(x: np.ndarray, y: np.ndarray, params: dict[str, Any], seed: int, stop: Callable[[], bool]) -> int:
    """The number of rounds, by early stopping on a stratified quarter of the training clips."""
    import lightgbm as lgb

    folds = _folds(y, seed)
    if not folds:
        return 100
    fit, held = folds[0]

    def stop_when_asked(env: Any) -> None:
        if stop():
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    train = lgb.Dataset(x[fit], y[fit], params={"min_data_in_bin": 1, "verbosity": -1})
    booster = lgb.train(
        params,
        train,
        num_boost_round=BOOSTED_ROUNDS,
        valid_sets=[lgb.Dataset(x[held], y[held], reference=train)],
        callbacks=[lgb.early_stopping(BOOSTED_PATIENCE, verbose=False), stop_when_asked],
    )
    return max(1, int(booster.best_iteration or booster.current_iteration()))


def fit_boosted(
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray,
    n_classes: int,
    folder: Path,
    seed: int,
    seconds: float,
    should_stop: Callable[[], bool],
) -> Fitted:
    """LightGBM: rounds found on an inner split of the training clips, then refitted on all of them, within
    ``seconds`` (the search stops early when they run out or a stop is asked)."""
    import lightgbm as lgb

    started = time.monotonic()
    params = _boosted_params(n_classes, seed)
    rounds = _rounds(x, y, params, seed, lambda: should_stop() or time.monotonic() - started > seconds / 2)
    booster = lgb.train(
        params, lgb.Dataset(x, y, params={"min_data_in_bin": 1, "verbosity": -1}), num_boost_round=rounds
    )
    path = folder / "boosted" / "boosted.lgb.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    probabilities = load_model("boosted", path, {}).probabilities(x_valid)
    return Fitted(
        "mfcc-stats+lightgbm",
        "boosted",
        path,
        probabilities,
        time.monotonic() - started,
        {"rounds": rounds, "size_kb": math.ceil(path.stat().st_size / 1024)},
    )
