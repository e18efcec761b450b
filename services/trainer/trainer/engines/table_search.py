"""The time-budgeted hyper-parameter search of the table engine: optuna TPE over LightGBM.

Each trial trains with early stopping on an inner validation split of the training rows, is measured for
single-row latency, and scores by the validation loss (log loss, or L2 for regression). The first trial is
LightGBM's defaults, so the search never ends below them. The preference sets the search size: number of
trials, share of the budget, the largest trees and the most boosting rounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

__all__ = ["PRESETS", "Preset", "SearchResult", "SearchSpace", "measure_latency_ms", "run_search"]


@dataclass(frozen=True)
class Preset:
    trials: int
    budget_share: float  # of the time left for the search
    max_leaves: int
    max_rounds: int
    early_stopping: int


PRESETS = {
    "performance_first": Preset(trials=15, budget_share=0.35, max_leaves=31, max_rounds=300, early_stopping=20),
    "balance": Preset(trials=60, budget_share=0.7, max_leaves=127, max_rounds=1500, early_stopping=50),
    "accuracy_first": Preset(trials=400, budget_share=1.0, max_leaves=255, max_rounds=4000, early_stopping=100),
}
DEFAULTS = {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20, "feature_fraction": 1.0,
            "bagging_fraction": 1.0, "lambda_l1": 1e-8, "lambda_l2": 1e-8}


@dataclass
class SearchSpace:
    base: dict[str, Any]  # objective, metric, num_class, threads, seed, verbosity
    metric: str  # the LightGBM metric the search minimises
    preset: Preset
    max_latency_ms: float | None
    init_model: lgb.Booster | None = None


@dataclass
class Trial:
    number: int
    params: dict[str, Any]
    loss: float
    best_iteration: int
    seconds: float
    latency_ms: float
    booster: lgb.Booster | None = None

    def summary(self) -> dict[str, Any]:
        return {"name": f"lightgbm-trial-{self.number}", "loss": _finite(self.loss), "rounds": self.best_iteration,
                "seconds": round(self.seconds, 3), "latency_ms": round(self.latency_ms, 4),
                "params": {k: _round(v) for k, v in self.params.items()}}


@dataclass
class SearchResult:
    best: Trial | None
    trials: list[Trial] = field(default_factory=list)
    stopped: bool = False


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def _finite(v: float) -> float | None:
    return None if not math.isfinite(v) else round(v, 6)


def measure_latency_ms(booster: lgb.Booster, row: np.ndarray, repeats: int = 15) -> float:
    """Median wall time of one single-row prediction, in ms (what one request costs the model)."""
    row = row.reshape(1, -1)
    booster.predict(row, num_threads=1)  # warm-up; one thread, as the predictor answers a single row
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        booster.predict(row, num_threads=1)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def _suggest(trial: optuna.Trial, preset: Preset) -> dict[str, Any]:
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, preset.max_leaves, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
    }


def stop_callback(should_stop: Callable[[], bool]) -> Callable[[Any], None]:
    """A LightGBM callback that ends boosting gracefully (keeping the model so far) when asked to."""

    def callback(env: Any) -> None:
        if env.iteration % 10 == 0 and should_stop():
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40  # type: ignore[attr-defined]
    return callback


def fit(space: SearchSpace, params: dict[str, Any], dtrain: lgb.Dataset, dvalid: lgb.Dataset | None,
        rounds: int, should_stop: Callable[[], bool], record: dict | None = None) -> lgb.Booster:
    callbacks = [stop_callback(should_stop)]
    valid_sets, names = [], []
    if dvalid is not None:
        valid_sets, names = [dvalid], ["valid"]
        if record is None:
            callbacks.append(lgb.early_stopping(space.preset.early_stopping, first_metric_only=True, verbose=False))
    if record is not None:
        valid_sets, names = [dtrain, *valid_sets], ["train", *names]
        callbacks.append(lgb.record_evaluation(record))
    full = {**space.base, **params, "bagging_freq": 1 if params.get("bagging_fraction", 1.0) < 1.0 else 0}
    return lgb.train(full, dtrain, num_boost_round=rounds, valid_sets=valid_sets, valid_names=names,
                     callbacks=callbacks, init_model=space.init_model, keep_training_booster=True)


def run_search(
    space: SearchSpace,
    dtrain: lgb.Dataset,
    dvalid: lgb.Dataset,
    sample_row: np.ndarray,
    seconds: float,
    should_stop: Callable[[], bool],
    on_trial: Callable[[Trial, Trial | None, int], None],
    seed: int = 0,
) -> SearchResult:
    """Run trials until the preset's count, ``seconds``, or ``should_stop()``; the best feasible trial wins."""
    result = SearchResult(best=None)
    started = time.monotonic()

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, space.preset)
        t0 = time.monotonic()
        booster = fit(space, params, dtrain, dvalid, space.preset.max_rounds, should_stop)
        loss = float(booster.best_score["valid"][space.metric]) if booster.best_score else math.inf
        latency = measure_latency_ms(booster, sample_row)
        done = Trial(trial.number, params, loss, booster.best_iteration or booster.current_iteration(),
                     time.monotonic() - t0, latency)
        feasible = space.max_latency_ms is None or latency <= space.max_latency_ms
        if feasible and (result.best is None or loss < result.best.loss):
            done.booster = booster
            if result.best is not None:
                result.best.booster = None  # keep one model in memory
            result.best = done
        result.trials.append(done)
        on_trial(done, result.best, space.preset.trials)
        return loss if feasible else math.inf

    def stop_when_asked(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if should_stop() or time.monotonic() - started >= seconds:
            result.stopped = should_stop()
            study.stop()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(DEFAULTS)
    study.optimize(objective, n_trials=space.preset.trials, timeout=max(seconds, 0.001),
                   callbacks=[stop_when_asked], catch=(lgb.basic.LightGBMError,))
    return result
