"""Predictive analytics: LightGBM classification or regression, searched within the time budget.

1. Read train.csv / eval.csv (eval split by ``train_ratio`` when the version has none), type the
   features (numeric, categorical, ignored) and choose the problem from the label column (or ``problem``).
2. Search hyper-parameters with optuna on an inner split of the training rows (early stopping, per-row
   latency measured and candidates over ``max_inference_ms`` rejected); the preference sizes the search.
3. Refit the best candidate on all training rows when the budget allows, else keep the trial's model.
4. Package: ``model.lgb.txt`` + manifest with the input schema; evaluate on the validation split *through
   the package's own predictor*, so the metrics reported are what the package answers.

Incremental training: when the previous package's input schema matches (same label column, problem,
labels and feature columns), every candidate continues boosting from the previous model.
"""

from __future__ import annotations

import json
import math
import os
import time
from importlib.metadata import version as dist_version
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

from shared.packages import load_predictor, read_manifest, write_manifest
from shared.packages.table import TablePredictor, TableSchema
from trainer.engines.base import EngineResult, TrainContext
from trainer.engines.table_data import (
    DataError, Frame, TableSplits, build_schema, encode_labels, labeled, read_table, split_frame,
)
from trainer.engines.table_search import PRESETS, SearchSpace, Trial, fit, measure_latency_ms, run_search
from trainer.metrics import classification_metrics, regression_metrics

__all__ = ["TableEngine"]

INNER_VALID_SHARE = 0.2
MODEL_FILE = "model.lgb.txt"
SMALL_TABLE_ROWS = 20000
MAX_CURVE_POINTS = 500
DATASET_PARAMS = {"feature_pre_filter": False, "verbosity": -1}


class TableEngine:
    name: ClassVar[str] = "lightgbm-automl"
    task_types: ClassVar[tuple[str, ...]] = ("predictive_analytics",)

    def train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        previous = _previous_model(ctx)
        splits = self._prepare(ctx, previous[0] if previous else None)
        schema = splits.schema
        ctx.log(f"{schema.problem}: {splits.train.n_rows} training rows, {splits.eval.n_rows} validation rows, "
                f"features {[(c['name'], c['type']) for c in schema.columns]}")
        space = self._space(ctx, schema, previous[1] if previous else None, splits.train.n_rows)
        x_train = schema.encode_columns(splits.train.columns, splits.train.n_rows)
        best, trials, stopped = self._search(ctx, space, schema, x_train, splits.y_train)
        booster, candidate = self._final_model(ctx, space, schema, x_train, splits, best)
        ctx.report(93, "packaging")
        self._write_package(ctx, schema, booster, best, candidate)
        ctx.report(96, "evaluation")
        metrics = self._evaluate(ctx, splits)
        _add_metrics(ctx, metrics)
        return EngineResult(
            engine=self.name,
            candidate=candidate,
            metrics=metrics,
            candidates=[t.summary() for t in trials],
            stopped_early=stopped or ctx.stop_requested(),
        )

    # -- data ---------------------------------------------------------------------------------------
    def _prepare(self, ctx: TrainContext, previous: TableSchema | None) -> TableSplits:
        table = ctx.data.table
        if table is None:
            raise DataError("the version has no table files")
        names = [c["name"] for c in table.schema] if table.schema else None
        train = read_table(table.train_csv, names)
        schema = build_schema(train, table, ctx.params.problem, previous)
        train = labeled(train, table.label_column)
        y_all, _ = encode_labels(schema, train.columns[table.label_column])
        if table.eval_csv is not None:
            evaluation = labeled(read_table(table.eval_csv, names), table.label_column)
        else:
            evaluation = Frame({k: [] for k in train.columns}, 0)
        if evaluation.n_rows == 0:  # no split in the version: make one by the ratio
            a, b = split_frame(train, y_all, ctx.params.train_ratio, schema.problem == "classification",
                               ctx.params.seed)
            train, evaluation, y_all = train.take(a), train.take(b), y_all[a]
        if train.n_rows < 2:
            raise DataError(f"{train.n_rows} labeled training row(s): at least 2 are needed")
        y_eval, eval_keys = encode_labels(schema, evaluation.columns[table.label_column])
        return TableSplits(schema, train, evaluation, y_all, y_eval, eval_keys)

    def _space(self, ctx: TrainContext, schema: TableSchema, init_model: lgb.Booster | None, n_rows: int
               ) -> SearchSpace:
        base: dict[str, Any] = {"verbosity": -1, "seed": ctx.params.seed, "deterministic": True,
                                "force_row_wise": True, "num_threads": _threads(ctx, n_rows)}
        if schema.problem == "regression":
            base |= {"objective": "regression", "metric": "l2"}
            metric = "l2"
        elif len(schema.labels) == 2:
            base |= {"objective": "binary", "metric": "binary_logloss"}
            metric = "binary_logloss"
        else:
            base |= {"objective": "multiclass", "metric": "multi_logloss", "num_class": len(schema.labels)}
            metric = "multi_logloss"
        preset = PRESETS[ctx.params.preference]
        return SearchSpace(base, metric, preset, ctx.params.max_inference_ms, init_model)

    # -- search ---------------------------------------------------------------------------------------
    def _search(self, ctx: TrainContext, space: SearchSpace, schema: TableSchema, x: np.ndarray, y: np.ndarray
                ) -> tuple[Trial, list[Trial], bool]:
        rows = split_frame(Frame({}, len(y)), y, 1 - INNER_VALID_SHARE, schema.problem == "classification",
                           ctx.params.seed + 1)
        dtrain, dvalid = _datasets(schema, x, y, rows)
        final_fit_estimate = {"seconds": 0.0}
        search_started = time.monotonic()
        seconds = max(0.0, ctx.remaining_seconds() - ctx.packaging_margin_seconds) * space.preset.budget_share

        def should_stop() -> bool:
            left = ctx.remaining_seconds() - ctx.packaging_margin_seconds - final_fit_estimate["seconds"]
            return ctx.should_stop() or left <= 0

        def on_trial(trial: Trial, best: Trial | None, planned: int) -> None:
            # A refit on all rows costs about one trial scaled by the extra rows (no early stopping overhead).
            final_fit_estimate["seconds"] = max(final_fit_estimate["seconds"], trial.seconds * 1.4)
            elapsed = time.monotonic() - search_started
            share = max((trial.number + 1) / planned, elapsed / seconds if seconds > 0 else 1.0)
            metric = _best_metric(space, best) if best else None
            ctx.curve("search", trial=trial.number, loss=_safe(trial.loss), best_loss=_safe(best.loss) if best
                      else None, seconds=round(elapsed, 3), latency_ms=round(trial.latency_ms, 4))
            ctx.report(5 + 80 * min(share, 1.0), "search", metric)

        result = run_search(space, dtrain, dvalid, x[rows[1][:1]], seconds, should_stop, on_trial,
                            seed=ctx.params.seed)
        if result.best is None:
            limit = space.max_latency_ms
            raise DataError(f"no candidate answers within max_inference_duration_ms={limit}"
                            if result.trials else "the search produced no model")
        ctx.log(f"search: {len(result.trials)} trial(s), best loss {result.best.loss:.5f} "
                f"({result.best.best_iteration} rounds, {result.best.latency_ms:.3f} ms/row)")
        return result.best, result.trials, result.stopped

    def _final_model(self, ctx: TrainContext, space: SearchSpace, schema: TableSchema, x: np.ndarray,
                     splits: TableSplits, best: Trial) -> tuple[lgb.Booster, str]:
        """Refit the best parameters on every training row, or keep the trial's model if time is short."""
        assert best.booster is not None
        init_rounds = space.init_model.current_iteration() if space.init_model is not None else 0
        rounds = max(1, int(round((best.best_iteration - init_rounds) * 1.1)))
        left = ctx.remaining_seconds() - ctx.packaging_margin_seconds
        if ctx.should_stop() or left < best.seconds * 1.5:
            ctx.log("final fit skipped (stop or budget): the best trial's model is kept")
            return best.booster, f"lightgbm-trial-{best.number}"
        ctx.report(88, "final fit")
        dtrain, deval = _datasets(schema, x, splits.y_train, (np.arange(len(splits.y_train)), None))
        record: dict[str, Any] = {}
        if splits.eval.n_rows and (splits.y_eval >= 0).all():
            x_eval = schema.encode_columns(splits.eval.columns, splits.eval.n_rows)
            deval = lgb.Dataset(x_eval, splits.y_eval, reference=dtrain, free_raw_data=False,
                                params=DATASET_PARAMS).construct()
        # A stop request does not cut the refit short (it is brief); only the end of the budget does, and a
        # cut refit is worse than the trial's model, so the trial's model is kept then.
        booster = fit(space, best.params, dtrain, deval, rounds,
                      lambda: ctx.remaining_seconds() <= ctx.packaging_margin_seconds, record=record)
        if booster.current_iteration() - init_rounds < rounds:
            ctx.log("final fit cut by the budget: the best trial's model is kept")
            return best.booster, f"lightgbm-trial-{best.number}"
        for name, series in record.items():
            values = series.get(space.metric, [])
            step = max(1, math.ceil(len(values) / MAX_CURVE_POINTS))  # keep curves small in the job row
            for i in [*range(0, len(values), step), *([len(values) - 1] if (len(values) - 1) % step else [])]:
                ctx.curve(f"final_{name}", iteration=i + 1, **{space.metric: round(float(values[i]), 6)})
        latency = measure_latency_ms(booster, x[:1])
        if space.max_latency_ms is not None and latency > space.max_latency_ms:
            ctx.log(f"refit answers in {latency:.3f} ms > {space.max_latency_ms} ms: the trial's model is kept")
            return best.booster, f"lightgbm-trial-{best.number}"
        return booster, f"lightgbm-refit-{best.number}"

    # -- package --------------------------------------------------------------------------------------
    def _write_package(self, ctx: TrainContext, schema: TableSchema, booster: lgb.Booster, best: Trial,
                       candidate: str) -> None:
        ctx.package_dir.mkdir(parents=True, exist_ok=True)
        iteration = booster.best_iteration if candidate.startswith("lightgbm-trial") else None
        booster.save_model(str(ctx.package_dir / MODEL_FILE), num_iteration=iteration or None)
        write_manifest(ctx.package_dir, {
            "task_type": "predictive_analytics",
            "problem": schema.problem,
            "labels": schema.labels,
            "artifacts": {"model": MODEL_FILE},
            "preprocessing": {"encoding": "shared.packages.table.TableSchema"},
            "input_schema": schema.as_dict(),
            "metrics": {},
            "parameters": {"preference": ctx.params.preference, "lightgbm": best.params,
                           "rounds": booster.current_iteration(),
                           "incremental": ctx.params.incremental_package_dir is not None},
            "engine": {"name": self.name, "candidate": candidate,
                       "versions": {"lightgbm": lgb.__version__, "optuna": dist_version("optuna"),
                                    "numpy": np.__version__}},
            "dataset": dict(ctx.data.dataset),
        })

    def _evaluate(self, ctx: TrainContext, splits: TableSplits) -> dict[str, Any]:
        predictor = load_predictor(ctx.package_dir)
        assert isinstance(predictor, TablePredictor)
        schema = splits.schema
        if splits.eval.n_rows == 0:
            raise DataError("no validation rows to evaluate on")
        x_eval = schema.encode_columns(splits.eval.columns, splits.eval.n_rows)
        predictions = [p["predict"] for p in predictor.predict_matrix(x_eval)]
        if schema.problem == "regression":
            return {"problem": "regression", **regression_metrics(splits.y_eval.tolist(), predictions)}
        truth = [k if k is not None else "" for k in splits.eval_labels]
        return {"problem": "classification", **classification_metrics(truth, predictions, schema.labels)}


def _datasets(schema: TableSchema, x: np.ndarray, y: np.ndarray, rows: tuple[np.ndarray, np.ndarray | None]
              ) -> tuple[lgb.Dataset, lgb.Dataset | None]:
    kwargs = {"feature_name": [f"f{i}" for i in range(x.shape[1])],
              "categorical_feature": schema.categorical_indices, "free_raw_data": False, "params": DATASET_PARAMS}
    dtrain = lgb.Dataset(x[rows[0]], y[rows[0]], **kwargs)
    dvalid = lgb.Dataset(x[rows[1]], y[rows[1]], reference=dtrain, **kwargs) if rows[1] is not None else None
    # Built now, once: the trials' booster parameters then never touch the binning of the data.
    dtrain.construct()
    if dvalid is not None:
        dvalid.construct()
    return dtrain, dvalid


def _previous_model(ctx: TrainContext) -> tuple[TableSchema, lgb.Booster] | None:
    """The previous package's schema and model, when its input schema fits this version."""
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    manifest = read_manifest(folder)
    previous = TableSchema.from_dict(manifest["input_schema"])
    table = ctx.data.table
    assert table is not None
    names = {c["name"] for c in table.schema} if table.schema else None
    fits = (previous.label_column == table.label_column and (ctx.params.problem in (None, previous.problem))
            and (names is None or {c["name"] for c in previous.columns} | {previous.label_column} == names))
    if not fits:
        ctx.log("incremental training: the previous model's schema differs, training from scratch")
        return None
    ctx.log(f"incremental training: continuing from {manifest.get('training_job_id', 'the previous model')}")
    return previous, lgb.Booster(model_file=str(folder / manifest["artifacts"]["model"]))


def _threads(ctx: TrainContext, n_rows: int) -> int:
    """One thread below ~20k rows: OpenMP start-up and contention cost more than they save on small tables."""
    if ctx.params.extra.get("threads"):
        return int(ctx.params.extra["threads"])
    return 1 if n_rows < SMALL_TABLE_ROWS else (os.cpu_count() or 1)


def _best_metric(space: SearchSpace, best: Trial) -> dict[str, Any]:
    if space.metric == "l2":
        return {"rmse": round(math.sqrt(best.loss), 6), "split": "inner validation"}
    return {space.metric: round(best.loss, 6), "split": "inner validation"}


def _safe(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _add_metrics(ctx: TrainContext, metrics: dict[str, Any]) -> None:
    path = ctx.package_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["metrics"] = metrics
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
