"""The table engine's search: a portfolio of LightGBM configurations and a linear model, then optuna TPE
over LightGBM for the rest of the time, each candidate scored on the same validation folds.

Small tables (up to :data:`CV_MAX_ROWS` rows) are scored by 5-fold cross-validation — one 20 % split of a
few hundred rows ranks candidates by luck — larger ones on one inner split. The more candidates are compared
on the same rows, the more the best one is the luckiest: the smallest tables repeat their folds with other
shuffles (:data:`CV_REPEATS`), and mid-size ones do so when the budget buys many candidates
(:data:`REPEAT_FROM_CANDIDATES`). Every candidate keeps its
out-of-fold predictions, so :func:`select_ensemble` (greedy selection with replacement, Caruana et al. 2004)
can weigh an ensemble of the best on the same rows. The search ends when its time is spent, the preset's
trial count is reached, or a stop is requested.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

from shared.packages.table import TableSchema
from trainer.engines.table.linear import fit_linear

__all__ = [
    "PORTFOLIO",
    "PRESETS",
    "Candidate",
    "Folds",
    "Preset",
    "SearchSpace",
    "fit_lightgbm",
    "loss_of",
    "make_folds",
    "measure_latency_ms",
    "run_search",
    "select_ensemble",
    "trial_limit",
]

CV_MAX_ROWS = 5000
CV_FOLDS = 5
REPEATED_CV_MAX_ROWS = 1000  # below: 5-fold CV repeated with other shuffles (less noise in the ranking)
# How many times over, by rows: with hundreds of candidates ranked on a hundred rows, the best score is
# mostly the luckiest (the winner's curse). small-multiclass (96 training rows, 60 s, 4 seeds, 1,000 test
# rows each): 2 repeats 0.672/0.636/0.721/0.663, 5 repeats 0.712/0.688/0.722/0.674 (fewer candidates, the
# linear model the data follow ranked first); small-regression (192 rows) R2 0.878/0.876 -> 0.880/0.877.
CV_REPEATS = ((300, 5), (REPEATED_CV_MAX_ROWS, 2))
# ... and on small tables the number of candidates compared grows with the rows, not with the budget: on
# small-multiclass seed 1 the search of 60 s (~200 candidates, 5 repeats) scored 0.716 on the test rows, the
# one of 360 s (~1,200) 0.689; with 2 repeats 0.691 and 0.676 — the longer search found a luckier fold score.
TRIALS_PER_ROW = 2
# Between 1,000 and 5,000 rows one 5-fold split is scored, unless the budget buys many candidates: when the
# portfolio's pace says the search would compare at least this many on one split, the folds are reshuffled
# once more and the portfolio rescored on both (the same winner's curse, in a long search). churn, 2,560
# training rows, 360 s (~600-800 candidates on one split): 0.806/0.805 on 1,000 test rows, twice over
# 0.812/0.804; at 60 s (50-100 candidates) twice over lost (0.812/0.797 against 0.816/0.801).
REPEAT_FROM_CANDIDATES = 300
KEEP_MODELS = 8  # candidates whose fold models stay in memory (the ensemble's members come from them)
DATASET_PARAMS = {"feature_pre_filter": False, "verbosity": -1, "min_data_in_bin": 1}


@dataclass(frozen=True)
class Preset:
    trials: int
    budget_share: float  # of the time left for the search
    max_leaves: int
    max_rounds: int
    early_stopping: int
    ensemble: bool


PRESETS = {
    "performance_first": Preset(
        trials=40, budget_share=0.5, max_leaves=31, max_rounds=500, early_stopping=30, ensemble=False
    ),
    "balance": Preset(
        trials=2000, budget_share=1.0, max_leaves=127, max_rounds=3000, early_stopping=60, ensemble=True
    ),
    "accuracy_first": Preset(
        trials=5000, budget_share=1.0, max_leaves=255, max_rounds=5000, early_stopping=100, ensemble=True
    ),
}
DEFAULTS = {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20}
# Tried first, in order: LightGBM's defaults (100 rounds, as a user would run them), then configurations
# that do well across tables (slower learning, shallower or regularised trees, small-data categorical
# handling: LightGBM's defaults need 100 rows per category group).
PORTFOLIO: list[tuple[str, dict[str, Any]]] = [
    ("lightgbm-defaults", {**DEFAULTS, "fixed_rounds": 100}),
    ("linear", {"C": 1.0}),
    (
        "lightgbm-slow",
        {
            "num_leaves": 15,
            "learning_rate": 0.05,
            "min_child_samples": 10,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "lambda_l2": 1.0,
            "min_data_per_group": 5,
            "cat_smooth": 5.0,
        },
    ),
    (
        "lightgbm-small-data",
        {
            "num_leaves": 7,
            "learning_rate": 0.05,
            "min_child_samples": 5,
            "feature_fraction": 0.9,
            "lambda_l2": 0.1,
            "min_data_per_group": 2,
            "cat_smooth": 1.0,
            "cat_l2": 1.0,
        },
    ),
    (
        "lightgbm-deep",
        {
            "num_leaves": 63,
            "learning_rate": 0.03,
            "min_child_samples": 20,
            "feature_fraction": 0.7,
            "bagging_fraction": 0.8,
            "lambda_l2": 1.0,
        },
    ),
    (
        "lightgbm-extra-trees",
        {
            "num_leaves": 31,
            "learning_rate": 0.05,
            "min_child_samples": 10,
            "feature_fraction": 0.7,
            "extra_trees": True,
            "min_data_per_group": 5,
        },
    ),
    ("linear-strong", {"C": 0.1}),
    # little regularisation: where the classes part along a line its probabilities grow sure, and its log
    # loss (what candidates are ranked by) can beat trees that are less often right
    ("linear-weak", {"C": 10.0}),
    (
        "lightgbm-stumps",
        {
            "num_leaves": 4,
            "learning_rate": 0.1,
            "min_child_samples": 3,
            "min_data_per_group": 2,
            "cat_smooth": 1.0,
        },
    ),
]


@dataclass
class SearchSpace:
    base: dict[str, Any]  # objective, metric, num_class, threads, seed, verbosity
    metric: str  # the LightGBM metric early stopping watches
    preset: Preset
    max_latency_ms: float | None
    schema: TableSchema
    n_classes: int  # 0: regression
    init_model: lgb.Booster | None = None


@dataclass
class Folds:
    """Train/validation row indices of each fold; ``rows``: the validation rows, in out-of-fold order."""

    splits: list[tuple[np.ndarray, np.ndarray]]
    seed: int = 0
    why: str = ""  # why they were reshuffled during the search (for the plan)

    @property
    def rows(self) -> np.ndarray:
        return np.concatenate([v for _, v in self.splits])


@dataclass
class Candidate:
    number: int
    name: str
    kind: str  # "lightgbm" | "linear"
    params: dict[str, Any]
    loss: float
    oof: np.ndarray  # predictions on Folds.rows (class probabilities or values)
    rounds: int  # boosting rounds to refit with (mean best iteration of the folds)
    seconds: float  # all folds
    latency_ms: float
    fits: int  # models fitted: one per fold
    models: list[Any] = field(default_factory=list)  # the fold models (kept for the best few)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "loss": _finite(self.loss),
            "rounds": self.rounds,
            "seconds": round(self.seconds, 3),
            "latency_ms": round(self.latency_ms, 4),
            "params": {k: _round(v) for k, v in self.params.items()},
        }


def make_folds(y: np.ndarray, classification: bool, seed: int, repeats: int | None = None) -> Folds:
    """5-fold CV (repeated ``repeats`` times, by default by :data:`CV_REPEATS`) up to :data:`CV_MAX_ROWS`
    rows, one 20 % split above."""
    from sklearn.model_selection import (
        KFold,
        RepeatedKFold,
        RepeatedStratifiedKFold,
        StratifiedKFold,
        train_test_split,
    )

    n = len(y)
    index = np.arange(n)
    stratify = classification and min(Counter(y.tolist()).values()) >= CV_FOLDS
    if repeats is None and n <= REPEATED_CV_MAX_ROWS:
        repeats = next(r for rows, r in CV_REPEATS if n <= rows)
    if n <= CV_MAX_ROWS and (repeats or 1) > 1:
        splitter = (
            RepeatedStratifiedKFold(n_splits=CV_FOLDS, n_repeats=repeats, random_state=seed)
            if stratify
            else RepeatedKFold(n_splits=CV_FOLDS, n_repeats=repeats, random_state=seed)
        )
        return Folds([(a, b) for a, b in splitter.split(index, y if stratify else None)], seed)
    if n <= CV_MAX_ROWS:
        splitter = (
            StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
            if stratify
            else KFold(CV_FOLDS, shuffle=True, random_state=seed)
        )
        return Folds([(a, b) for a, b in splitter.split(index, y if stratify else None)], seed)
    a, b = train_test_split(index, test_size=0.2, random_state=seed, stratify=y if stratify else None)
    return Folds([(np.sort(a), np.sort(b))], seed)


def loss_of(space: SearchSpace, y: np.ndarray, values: np.ndarray) -> float:
    """Log loss (classification) or mean squared error (regression): what candidates are ranked by."""
    if space.n_classes == 0:
        return float(np.mean((values - y) ** 2))
    p = np.clip(values[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.mean(np.log(p)))


def measure_latency_ms(predict: Callable[[np.ndarray], Any], row: np.ndarray, repeats: int = 15) -> float:
    """Median wall time of one single-row prediction, in ms (what one request costs the model)."""
    row = row.reshape(1, -1)
    predict(row)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def stop_callback(should_stop: Callable[[], bool]) -> Callable[[Any], None]:
    """A LightGBM callback that ends boosting gracefully (keeping the model so far) when asked to."""

    def callback(env: Any) -> None:
        if env.iteration % 10 == 0 and should_stop():
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40  # type: ignore[attr-defined]  # LightGBM reads its callbacks' order from this
    return callback


def fit_lightgbm(
    space: SearchSpace,
    params: dict[str, Any],
    dtrain: lgb.Dataset,
    dvalid: lgb.Dataset | None,
    rounds: int,
    should_stop: Callable[[], bool],
) -> lgb.Booster:
    """Boost up to ``rounds`` (early stopping on ``dvalid`` when given)."""
    callbacks = [stop_callback(should_stop)]
    valid_sets, names = [], []
    if dvalid is not None:
        valid_sets, names = [dvalid], ["valid"]
        callbacks.append(
            lgb.early_stopping(space.preset.early_stopping, first_metric_only=True, verbose=False)
        )
    booster_params = {k: v for k, v in params.items() if k != "fixed_rounds"}
    full = {
        **space.base,
        **booster_params,
        "bagging_freq": 1 if booster_params.get("bagging_fraction", 1.0) < 1.0 else 0,
    }
    return lgb.train(
        full,
        dtrain,
        num_boost_round=rounds,
        valid_sets=valid_sets,
        valid_names=names,
        callbacks=callbacks,
        init_model=space.init_model,
        keep_training_booster=True,
    )


def lightgbm_values(space: SearchSpace, booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    raw = np.asarray(booster.predict(x, num_threads=1 if len(x) < 256 else 0))
    if space.n_classes == 2:
        return np.column_stack([1 - raw, raw])
    return raw


def datasets(
    space: SearchSpace, x: np.ndarray, y: np.ndarray, train: np.ndarray, valid: np.ndarray | None
) -> tuple[lgb.Dataset, lgb.Dataset | None]:
    kwargs: dict[str, Any] = {
        "feature_name": [f"f{i}" for i in range(x.shape[1])],
        "categorical_feature": space.schema.categorical_indices,
        "free_raw_data": False,
        "params": DATASET_PARAMS,
    }
    dtrain = lgb.Dataset(x[train], y[train], **kwargs).construct()
    dvalid = (
        lgb.Dataset(x[valid], y[valid], reference=dtrain, **kwargs).construct() if valid is not None else None
    )
    return dtrain, dvalid


class _Scorer:
    """Scores a candidate on every fold: out-of-fold predictions, loss, refit rounds, latency."""

    def __init__(
        self,
        space: SearchSpace,
        x: np.ndarray,
        y: np.ndarray,
        folds: Folds,
        seed: int,
        should_stop: Callable[[], bool],
    ) -> None:
        self.space, self.x, self.y, self.folds, self.seed, self.should_stop = (
            space,
            x,
            y,
            folds,
            seed,
            should_stop,
        )
        self.y_rows = y[folds.rows]
        self.data = [datasets(space, x, y, a, b) for a, b in folds.splits]  # binned once, reused by trials

    def score(self, number: int, name: str, kind: str, params: dict[str, Any]) -> Candidate:
        started = time.monotonic()
        models, parts, rounds = [], [], []
        for (train, valid), (dtrain, dvalid) in zip(self.folds.splits, self.data):
            if kind == "linear":
                model: Any = fit_linear(
                    self.space.schema,
                    self.x[train],
                    self.y[train],
                    self.space.n_classes,
                    params["C"],
                    self.seed,
                )
                parts.append(model.values(self.x[valid]))
            else:
                fixed = params.get("fixed_rounds")
                model = fit_lightgbm(
                    self.space,
                    params,
                    dtrain,
                    None if fixed else dvalid,
                    fixed or self.space.preset.max_rounds,
                    self.should_stop,
                )
                rounds.append(model.best_iteration or model.current_iteration())
                parts.append(lightgbm_values(self.space, model, self.x[valid]))
            models.append(model)
        oof = np.concatenate(parts)
        row = self.x[self.folds.splits[0][1][:1]]
        first = models[0]
        latency = measure_latency_ms(
            first.values if kind == "linear" else (lambda r: first.predict(r, num_threads=1)), row
        )
        return Candidate(
            number,
            name,
            kind,
            params,
            loss_of(self.space, self.y_rows, oof),
            oof,
            int(np.mean(rounds)) if rounds else 0,
            time.monotonic() - started,
            latency,
            len(models),
            models,
        )


def _suggest(trial: optuna.Trial, preset: Preset) -> dict[str, Any]:
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, preset.max_leaves, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "min_data_per_group": trial.suggest_int("min_data_per_group", 1, 100, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 0.1, 50.0, log=True),
        "extra_trees": trial.suggest_categorical("extra_trees", [False, True]),
    }


def trial_limit(preset: Preset, rows: int) -> int:
    """How many candidates the search compares at most: the preset's trials, or :data:`TRIALS_PER_ROW`
    per training row on tables small enough for repeated cross-validation."""
    if rows > REPEATED_CV_MAX_ROWS:
        return preset.trials
    return min(preset.trials, max(len(PORTFOLIO), TRIALS_PER_ROW * rows))


def run_search(
    space: SearchSpace,
    x: np.ndarray,
    y: np.ndarray,
    folds: Folds,
    seconds: float,
    should_stop: Callable[[], bool],
    on_candidate: Callable[[Candidate, Candidate], None],
    seed: int = 0,
) -> tuple[list[Candidate], Folds]:
    """Every candidate scored, best first (feasible ones: within the latency limit), and the folds they
    were scored on (``folds``, or those folds reshuffled once more: :data:`REPEAT_FROM_CANDIDATES`)."""
    scorer = _Scorer(space, x, y, folds, seed, should_stop)
    started = time.monotonic()
    done: list[Candidate] = []
    limit = trial_limit(space.preset, len(y))

    def out_of_time() -> bool:
        return should_stop() or time.monotonic() - started >= seconds or len(done) >= limit

    def add(candidate: Candidate) -> Candidate:
        feasible = space.max_latency_ms is None or candidate.latency_ms <= space.max_latency_ms
        if not feasible:
            candidate.loss, candidate.models = math.inf, []
        done.append(candidate)
        done.sort(key=lambda c: c.loss)
        for c in done[KEEP_MODELS:]:
            c.models = []
        on_candidate(candidate, done[0])
        return candidate

    portfolio = [
        (n, p) for n, p in PORTFOLIO if not (space.init_model is not None and n.startswith("linear"))
    ]

    def score_portfolio() -> bool:
        for name, params in portfolio:
            if done and out_of_time():
                return False
            kind = "linear" if name.startswith("linear") else "lightgbm"
            try:
                add(scorer.score(len(done), name, kind, params))
            except (ValueError, lgb.basic.LightGBMError):  # e.g. a fold of one class for the linear model
                continue
        return not out_of_time()

    if not score_portfolio():
        return done, folds
    pace = sum(c.seconds for c in done) / len(done)
    expected = len(done) + (seconds - (time.monotonic() - started)) / max(pace, 1e-6)
    if len(folds.splits) == CV_FOLDS and min(expected, limit) >= REPEAT_FROM_CANDIDATES:
        folds = make_folds(y, space.n_classes > 0, folds.seed, repeats=2)
        folds.why = (
            f"reshuffled once more after the portfolio: at {pace:.2f} s a candidate the budget buys "
            f"~{expected:.0f} on one split"
        )
        scorer = _Scorer(space, x, y, folds, seed, should_stop)
        done.clear()
        if not score_portfolio():
            return done, folds
    _tpe(space, scorer, add, done, out_of_time, limit, seed)
    return done, folds


def _tpe(
    space: SearchSpace,
    scorer: _Scorer,
    add: Callable[[Candidate], Candidate],
    done: list[Candidate],
    out_of_time: Callable[[], bool],
    limit: int,
    seed: int,
) -> None:
    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, space.preset)
        return add(scorer.score(len(done), f"lightgbm-tpe-{trial.number}", "lightgbm", params)).loss

    def stop_when_asked(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if out_of_time():
            study.stop()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for name, params in PORTFOLIO:  # what the portfolio learnt seeds the sampler
        if name.startswith("lightgbm-") and "fixed_rounds" not in params:
            study.enqueue_trial(
                {
                    "feature_fraction": 1.0,
                    "bagging_fraction": 1.0,
                    "lambda_l1": 1e-8,
                    "lambda_l2": 1e-8,
                    "min_data_per_group": 100,
                    "cat_smooth": 10.0,
                    "extra_trees": False,
                    **params,
                },
                skip_if_exists=True,
            )
            break
    study.optimize(
        objective,
        n_trials=max(1, limit - len(done)),
        callbacks=[stop_when_asked],
        catch=(lgb.basic.LightGBMError, ValueError),
    )


def select_ensemble(
    space: SearchSpace,
    y_rows: np.ndarray,
    candidates: list[Candidate],
    rounds: int = 25,
    pool: int = KEEP_MODELS,
) -> dict[int, int]:
    """Greedy ensemble selection with replacement on the out-of-fold predictions: candidate number ->
    times chosen (its weight). A single candidate when no mixture lowers the loss."""
    usable = [c for c in candidates[:pool] if math.isfinite(c.loss) and c.models]
    if not usable:
        return {}
    chosen: dict[int, int] = {usable[0].number: 1}
    total, best_loss = usable[0].oof.copy(), usable[0].loss
    for step in range(2, rounds + 1):
        trials = [(loss_of(space, y_rows, (total + c.oof) / step), c) for c in usable]
        loss, pick = min(trials, key=lambda t: t[0])
        if loss >= best_loss - 1e-6:
            break
        total, best_loss = total + pick.oof, loss
        chosen[pick.number] = chosen.get(pick.number, 0) + 1
    return chosen


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def _finite(v: float) -> float | None:
    return None if not math.isfinite(v) else round(v, 6)
