"""Predictive analytics: a search over LightGBM configurations and a linear model that spends the budget,
then an ensemble of the best where it wins on validation.

1. Read train.csv / eval.csv (eval split by ``train_ratio`` when the version has none), type the
   features (numeric, categorical, ignored) and choose the problem from the label column (or ``problem``).
2. Plan from the table's size: cross-validation folds for small tables, one inner split for large ones;
   the time left after the refit and packaging goes to the search (:mod:`.search`): LightGBM's defaults,
   a portfolio of configurations and a linear model first, then optuna TPE over LightGBM.
3. Greedy ensemble selection on the out-of-fold predictions (within ``max_inference_ms``); its members are
   refit on all training rows when the budget allows, else their fold models are averaged.
4. Package (:mod:`shared.packages.table`: one LightGBM model, or an ensemble with a numpy linear member);
   evaluate on the validation split *through the package's own predictor*; the quality report sets the
   model against the majority class / the mean and the simple candidates (LightGBM defaults, linear).

Incremental training: when the previous package's input schema matches (same label column, problem,
labels and feature columns), every LightGBM candidate continues boosting from the previous model.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

from shared.packages import load_predictor, read_manifest
from shared.packages.table import TablePredictor, TableSchema
from trainer.engines.base import Baseline, EngineResult, QualityReport, TrainContext
from trainer.engines.table.data import (
    DataError,
    Frame,
    TableSplits,
    build_schema,
    encode_labels,
    labeled,
    read_table,
    split_frame,
)
from trainer.engines.table.linear import fit_linear
from trainer.engines.table.package import add_metrics, write_package
from trainer.engines.table.search import (
    PRESETS,
    Candidate,
    Folds,
    SearchSpace,
    datasets,
    fit_lightgbm,
    lightgbm_values,
    make_folds,
    run_search,
    select_ensemble,
    trial_limit,
)
from trainer.metrics import classification_metrics, regression_metrics

__all__ = ["TableEngine"]

SMALL_TABLE_ROWS = 20000
PACKAGING_SECONDS = 3.0
REFIT_FACTOR = 1.5  # a refit on all rows vs one fold's fit (more rows, no early stopping), with slack


class TableEngine:
    name: ClassVar[str] = "table-automl"
    task_types: ClassVar[tuple[str, ...]] = ("predictive_analytics",)

    def train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        previous = _previous_model(ctx)
        splits = self._prepare(ctx, previous[0] if previous else None)
        schema = splits.schema
        ctx.log(
            f"{schema.problem}: {splits.train.n_rows} training rows, {splits.eval.n_rows} validation rows, "
            f"features {[(c['name'], c['type']) for c in schema.columns]}"
        )
        x = schema.encode_columns(splits.train.columns, splits.train.n_rows)
        space = self._space(ctx, schema, previous[1] if previous else None, len(x))
        ctx.report(3, "planning")
        folds = make_folds(splits.y_train, schema.problem == "classification", ctx.params.seed + 1)
        plan = self._plan(ctx, space, len(x), len(folds.splits))
        ctx.log(f"plan: {plan['validation']}; search {plan['search_seconds']:.0f}s")
        candidates, folds = self._search(ctx, space, x, splits.y_train, folds, plan["search_seconds"])
        if folds.why:
            plan["validation"] = f"{len(folds.splits)} cross-validation folds ({len(x)} rows), {folds.why}"
            ctx.log(f"validation: {plan['validation']}")
        weights = (
            select_ensemble(space, splits.y_train[folds.rows], candidates) if space.preset.ensemble else {}
        )
        members = self._members(ctx, space, candidates, weights)
        models = self._final_models(ctx, space, x, splits.y_train, members)
        ctx.report(92, "packaging")
        name = "+".join(f"{c.name}x{w}" for c, w in members) if len(members) > 1 else members[0][0].name
        write_package(
            ctx, schema, models, name, {"search": plan, "members": [c.summary() for c, _ in members]}
        )
        ctx.report(95, "evaluating")
        metrics = self._evaluate(ctx, splits)
        quality = self._quality(ctx, space, x, splits, metrics)
        return EngineResult(
            engine=self.name,
            candidate=name,
            metrics=metrics,
            candidates=[c.summary() for c in candidates],
            # Fewer candidates than the preset allows: the search was ended by the budget (or a stop).
            stopped_early=ctx.stop_requested() or len(candidates) < trial_limit(space.preset, len(x)),
            quality=quality,
            plan={**plan, "tried": len(candidates), "chosen": name},
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
            a, b = split_frame(
                train, y_all, ctx.params.train_ratio, schema.problem == "classification", ctx.params.seed
            )
            train, evaluation, y_all = train.take(a), train.take(b), y_all[a]
        if train.n_rows < 2:
            raise DataError(f"{train.n_rows} labeled training row(s): at least 2 are needed")
        y_eval, eval_keys = encode_labels(schema, evaluation.columns[table.label_column])
        return TableSplits(schema, train, evaluation, y_all, y_eval, eval_keys)

    def _space(
        self, ctx: TrainContext, schema: TableSchema, init_model: lgb.Booster | None, n_rows: int
    ) -> SearchSpace:
        base: dict[str, Any] = {
            "verbosity": -1,
            "seed": ctx.params.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": _threads(ctx, n_rows),
        }
        n_classes = 0 if schema.problem == "regression" else len(schema.labels)
        if n_classes == 0:
            base |= {"objective": "regression", "metric": "l2"}
        elif n_classes == 2:
            base |= {"objective": "binary", "metric": "binary_logloss"}
        else:
            base |= {"objective": "multiclass", "metric": "multi_logloss", "num_class": n_classes}
        return SearchSpace(
            base,
            base["metric"],
            PRESETS[ctx.params.preference],
            ctx.params.max_inference_ms,
            schema,
            n_classes,
            init_model,
        )

    def _plan(self, ctx: TrainContext, space: SearchSpace, n_rows: int, n_folds: int) -> dict[str, Any]:
        left = max(0.0, ctx.remaining_seconds() - _margin(ctx))
        validation = (
            f"{n_folds} cross-validation folds ({n_rows} rows)"
            if n_folds > 1
            else f"one inner 20 % split ({n_rows} rows)"
        )
        return {
            "validation": validation,
            "search_seconds": round(left * space.preset.budget_share, 1),
            "preset": ctx.params.preference,
            "threads": space.base["num_threads"],
            "portfolio": "LightGBM defaults, 5 LightGBM configurations, 3 linear models, then TPE",
            "max_candidates": trial_limit(space.preset, n_rows),
            "ensemble": space.preset.ensemble,
        }

    # -- search ---------------------------------------------------------------------------------------
    def _search(
        self,
        ctx: TrainContext,
        space: SearchSpace,
        x: np.ndarray,
        y: np.ndarray,
        folds: Folds,
        seconds: float,
    ) -> tuple[list[Candidate], Folds]:
        refit = {"seconds": 0.0}
        started = time.monotonic()

        def should_stop() -> bool:
            return ctx.stop_requested() or ctx.remaining_seconds() - _margin(ctx) <= refit["seconds"]

        def on_candidate(candidate: Candidate, best: Candidate) -> None:
            # The refit of up to a few members costs about their fold fits scaled to all rows.
            per_fold = candidate.seconds / max(1, candidate.fits)
            refit["seconds"] = max(refit["seconds"], 3 * per_fold * REFIT_FACTOR)
            elapsed = time.monotonic() - started
            ctx.curve(
                "search",
                candidate=candidate.name,
                loss=_safe(candidate.loss),
                best_loss=_safe(best.loss),
                seconds=round(elapsed, 3),
                latency_ms=round(candidate.latency_ms, 4),
            )
            share = elapsed / seconds if seconds > 0 else 1.0
            ctx.report(5 + 80 * min(share, 1.0), "training", _best_metric(space, best))

        candidates, folds = run_search(
            space, x, y, folds, seconds, should_stop, on_candidate, seed=ctx.params.seed
        )
        feasible = [c for c in candidates if math.isfinite(c.loss)]
        if not feasible:
            raise DataError(
                f"no candidate answers within max_inference_duration_ms={space.max_latency_ms}"
                if candidates
                else "the search produced no model"
            )
        best = feasible[0]
        ctx.log(
            f"search: {len(candidates)} candidate(s) in {time.monotonic() - started:.1f}s, best {best.name} "
            f"loss {best.loss:.5f} ({best.rounds} rounds, {best.latency_ms:.3f} ms/row)"
        )
        return feasible, folds

    def _members(
        self, ctx: TrainContext, space: SearchSpace, candidates: list[Candidate], weights: dict[int, int]
    ) -> list[tuple[Candidate, int]]:
        by_number = {c.number: c for c in candidates}
        members = [(by_number[n], w) for n, w in weights.items()] or [(candidates[0], 1)]
        limit = space.max_latency_ms
        while len(members) > 1 and limit is not None and sum(c.latency_ms for c, _ in members) > limit:
            members.remove(min(members, key=lambda m: m[1]))  # the lightest member goes first
        if len(members) > 1:
            ctx.log("ensemble: " + ", ".join(f"{c.name} x{w}" for c, w in members))
        return members

    def _final_models(
        self,
        ctx: TrainContext,
        space: SearchSpace,
        x: np.ndarray,
        y: np.ndarray,
        members: list[tuple[Candidate, int]],
    ) -> list[tuple[str, Any, float]]:
        """Each member refit on all training rows when there is time, else its fold models averaged."""
        ctx.report(88, "training")
        out: list[tuple[str, Any, float]] = []
        for candidate, weight in members:
            folds = len(candidate.models)
            estimate = candidate.seconds / max(1, folds) * REFIT_FACTOR
            if ctx.stop_requested() or ctx.remaining_seconds() - _margin(ctx) < estimate:
                ctx.log(f"{candidate.name}: no time to refit, its {folds} fold models are averaged")
                out += [(candidate.kind, m, weight / folds) for m in candidate.models]
                continue
            out.append((candidate.kind, self._refit(ctx, space, x, y, candidate), float(weight)))
        return out

    def _refit(
        self, ctx: TrainContext, space: SearchSpace, x: np.ndarray, y: np.ndarray, c: Candidate
    ) -> Any:
        if c.kind == "linear":
            return fit_linear(space.schema, x, y, space.n_classes, c.params["C"], ctx.params.seed)
        dtrain, _ = datasets(space, x, y, np.arange(len(y)), None)
        init_rounds = space.init_model.current_iteration() if space.init_model is not None else 0
        rounds = c.params.get("fixed_rounds") or max(1, round((c.rounds - init_rounds) * 1.1))
        return fit_lightgbm(space, c.params, dtrain, None, rounds, lambda: False)

    # -- evaluation -----------------------------------------------------------------------------------
    def _evaluate(self, ctx: TrainContext, splits: TableSplits) -> dict[str, Any]:
        predictor = load_predictor(ctx.package_dir)
        assert isinstance(predictor, TablePredictor)
        schema = splits.schema
        if splits.eval.n_rows == 0:
            raise DataError("no validation rows to evaluate on")
        x_eval = schema.encode_columns(splits.eval.columns, splits.eval.n_rows)
        predictions = [p["predict"] for p in predictor.predict_matrix(x_eval)]
        if schema.problem == "regression":
            metrics = {"problem": "regression", **regression_metrics(splits.y_eval.tolist(), predictions)}
        else:
            truth = [k if k is not None else "" for k in splits.eval_labels]
            metrics = {
                "problem": "classification",
                **classification_metrics(truth, predictions, schema.labels),
            }
        add_metrics(ctx.package_dir, metrics)
        return metrics

    def _quality(
        self,
        ctx: TrainContext,
        space: SearchSpace,
        x: np.ndarray,
        splits: TableSplits,
        metrics: dict[str, Any],
    ) -> QualityReport:
        """Majority class / mean, and the simple candidates (LightGBM defaults, linear), refit on all training
        rows and scored on the same validation rows (each takes a fraction of a second on a table)."""
        schema, y = splits.schema, splits.y_train
        x_eval = schema.encode_columns(splits.eval.columns, splits.eval.n_rows)
        regression = schema.problem == "regression"
        if regression:
            trivial = Baseline("mean", _rmse(splits.y_eval, np.full(len(splits.y_eval), y.mean())))
        else:
            majority = int(np.bincount(y, minlength=len(schema.labels)).argmax())
            trivial = Baseline("majority class", float(np.mean(splits.y_eval == majority)))
        simple: Baseline | None = None
        for name, make in (
            ("LightGBM defaults", lambda: self._defaults(space, x, y, x_eval)),
            ("linear model", lambda: _linear_values(space, x, y, x_eval, ctx.params.seed)),
        ):
            if ctx.remaining_seconds() < 1.0:
                break
            try:
                values = make()
            except (ValueError, lgb.basic.LightGBMError):
                continue
            score = (
                _rmse(splits.y_eval, values)
                if regression
                else float(np.mean(values.argmax(axis=1) == splits.y_eval))
            )
            if simple is None or (score < simple.score if regression else score > simple.score):
                simple = Baseline(name, score)
        model = metrics["rmse"] if regression else metrics["accuracy"]
        return QualityReport("rmse" if regression else "accuracy", not regression, model, trivial, simple)

    def _defaults(self, space: SearchSpace, x: np.ndarray, y: np.ndarray, x_eval: np.ndarray) -> np.ndarray:
        dtrain, _ = datasets(space, x, y, np.arange(len(y)), None)
        plain = SearchSpace(space.base, space.metric, space.preset, None, space.schema, space.n_classes)
        return lightgbm_values(
            plain,
            fit_lightgbm(plain, {"num_leaves": 31, "learning_rate": 0.1}, dtrain, None, 100, lambda: False),
            x_eval,
        )


def _linear_values(
    space: SearchSpace, x: np.ndarray, y: np.ndarray, x_eval: np.ndarray, seed: int
) -> np.ndarray:
    return fit_linear(space.schema, x, y, space.n_classes, 1.0, seed).values(x_eval)


def _rmse(truth: np.ndarray, values: np.ndarray) -> float:
    return math.sqrt(float(np.mean((np.asarray(values, dtype=float) - truth) ** 2)))


def _previous_model(ctx: TrainContext) -> tuple[TableSchema, lgb.Booster] | None:
    """The previous package's schema and (first LightGBM) model, when its input schema fits this version."""
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    manifest = read_manifest(folder)
    previous = TableSchema.from_dict(manifest["input_schema"])
    table = ctx.data.table
    assert table is not None
    names = {c["name"] for c in table.schema} if table.schema else None
    fits = (
        previous.label_column == table.label_column
        and (ctx.params.problem in (None, previous.problem))
        and (names is None or {c["name"] for c in previous.columns} | {previous.label_column} == names)
    )
    members = manifest.get("ensemble") or [{"kind": "lightgbm", "artifact": "model"}]
    boosters = [m for m in members if m["kind"] == "lightgbm"]
    if not fits or not boosters:
        ctx.log("incremental training: the previous model's schema differs, training from scratch")
        return None
    ctx.log(f"incremental training: continuing from {manifest.get('training_job_id', 'the previous model')}")
    return previous, lgb.Booster(model_file=str(folder / manifest["artifacts"][boosters[0]["artifact"]]))


def _margin(ctx: TrainContext) -> float:
    """What the package and its evaluation take here: a text model file and a pass of the predictor over
    the validation rows, well under a second; the job's generic margin (sized for ONNX exports) would
    leave seconds of the budget unused."""
    return min(ctx.packaging_margin_seconds, PACKAGING_SECONDS)


def _threads(ctx: TrainContext, n_rows: int) -> int:
    """One thread below ~20k rows: OpenMP start-up and contention cost more than they save on small tables."""
    if ctx.params.extra.get("threads"):
        return int(ctx.params.extra["threads"])
    return 1 if n_rows < SMALL_TABLE_ROWS else (os.cpu_count() or 1)


def _best_metric(space: SearchSpace, best: Candidate) -> dict[str, Any]:
    if space.n_classes == 0:
        return {"rmse": _safe(math.sqrt(best.loss)), "split": "validation folds"}
    return {"log_loss": _safe(best.loss), "split": "validation folds"}


def _safe(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
