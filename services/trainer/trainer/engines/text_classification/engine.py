"""Text classification engine: TF-IDF blocks with linear models chosen on validation, an ensemble of the
best, and a small transformer only when the budget leaves room for one.

Chinese first (character n-grams need no word segmentation), any language works: word n-grams join the
search when the texts are written with spaces. Candidates (:data:`CANDIDATES`, by preference) are logistic
regression, NB-SVM and complement naive Bayes over character / word TF-IDF blocks
(:mod:`.linear`); each is scored by its calibrated log loss on inner validation folds of the training texts
(3-fold cross-validation below :data:`CV_MAX_TEXTS` texts, one 20 % split above), then greedy ensemble
selection weighs the best on the same out-of-fold predictions. The members are refit on every training text
and packaged as one ``tfidf_linear`` model (numpy in serving); the package is evaluated on the version's
validation split *through its own predictor*. A BERT-tiny trained from scratch
(:func:`.models.fit_transformer`) is tried only when at least :data:`MIN_TRANSFORMER_SECONDS` remain.
"""

from __future__ import annotations

import shutil
import statistics
import time
from typing import Any, ClassVar

import numpy as np

from shared.packages import load_predictor, read_manifest, write_manifest
from shared.packages.text import TextPredictor
from trainer.engines.base import Baseline, DataError, EngineResult, QualityReport, Sample, TrainContext
from trainer.engines.common.latency import measure_latency_ms
from trainer.engines.text_classification.linear import LinearSpec, Weights, calibrate, fit_blocks, fit_weights
from trainer.engines.text_classification.package import write_linear_package
from trainer.metrics import classification_metrics

__all__ = ["CANDIDATES", "TextClassificationEngine"]

BASELINE = LinearSpec("lr", 1.0, ("char1-3-raw",))  # TF-IDF char 1-3 + logistic regression, as commonly run
_CHAR = [
    LinearSpec("lr", 10.0, ("char1-3",)),
    LinearSpec("nbsvm", 4.0, ("char1-3",)),
    LinearSpec("lr", 10.0, ("char1-4",)),
    LinearSpec("cnb", 0.3, ("char1-3",)),
    LinearSpec("nbsvm", 4.0, ("char1-4",)),
    LinearSpec("lr", 30.0, ("char1-3",)),
    LinearSpec("lr", 10.0, ("char2-5",)),
    LinearSpec("lr", 3.0, ("char1-3",)),
    LinearSpec("cnb", 0.3, ("char1-4",)),
    LinearSpec("nbsvm", 4.0, ("char2-5",)),
]
_WORD = [
    LinearSpec("lr", 10.0, ("word1-2",)),
    LinearSpec("lr", 10.0, ("char1-3", "word1-2")),
    LinearSpec("nbsvm", 4.0, ("char1-3", "word1-2")),
]
CANDIDATES = {
    "performance_first": [BASELINE, *_CHAR[:3]],
    "balance": [BASELINE, *_CHAR],
    "accuracy_first": [BASELINE, *_CHAR],
}
CV_MAX_TEXTS = 2000
ENSEMBLE_ROUNDS = 15
MIN_TRANSFORMER_SECONDS = 60.0
EXPORT_SECONDS, EXPORT_SHARE = 5.0, 0.15  # kept from a transformer's time for its ONNX export and check
REFIT_FACTOR = 1.4  # all training texts vs a fold's, with slack


class TextClassificationEngine:
    name: ClassVar[str] = "text_classification"
    task_types: ClassVar[tuple[str, ...]] = ("text_classification",)

    def train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        labels = list(ctx.data.labels) or sorted({s.labels[0] for s in ctx.data.train if s.labels})
        train, valid = _split(ctx, labels)
        texts, y = [t for t, _ in train], np.array([labels.index(lab) for _, lab in train])
        ctx.log(f"text: {len(train)} training and {len(valid)} validation texts, {len(labels)} classes")
        if ctx.params.incremental_package_dir is not None:
            previous = read_manifest(ctx.params.incremental_package_dir)
            ctx.log(
                f"incremental training: refitting on this version (previous candidate "
                f"{previous.get('engine', {}).get('candidate')}) - text models train from scratch in seconds"
            )
        ctx.report(3, "planning")
        plan = _plan(ctx, texts)
        ctx.log(f"plan: {plan['validation']}; {len(plan['candidates'])} linear candidates; {plan['why']}")
        search = _Search(ctx, texts, y, len(labels), plan)
        tried = search.run()
        members = search.ensemble() if ctx.params.preference != "performance_first" else search.best(1)
        chosen = self._transformer(ctx, search, members, texts, y, labels, tried) or self._linear(
            ctx, search, members, texts, y, labels
        )
        ctx.report(95, "evaluating")
        metrics, latency = self._evaluate(ctx, labels, valid)
        quality = self._quality(ctx, search, texts, y, labels, valid, metrics)
        return EngineResult(
            engine=self.name,
            candidate=chosen,
            metrics=metrics,
            candidates=tried,
            stopped_early=ctx.stop_requested() or search.cut_short,
            quality=quality,
            plan={
                **{k: v for k, v in plan.items() if k != "candidates"},
                "candidates": [s.name for s in plan["candidates"]],
                "chosen": chosen,
                "latency_ms": latency,
            },
        )

    # -- final model ----------------------------------------------------------------------------------
    def _linear(
        self,
        ctx: TrainContext,
        search: _Search,
        members: list[tuple[int, int]],
        texts: list[str],
        y: np.ndarray,
        labels: list[str],
    ) -> str:
        specs = [(search.specs[i], w) for i, w in members]
        ctx.report(88, "training")
        fitted = search.refit(specs, texts, y)
        ctx.report(92, "packaging")
        name = "+".join(f"{s.name}x{w}" for s, w in specs) if len(specs) > 1 else specs[0][0].name
        write_linear_package(ctx, labels, fitted, name)
        if not self._within_latency(ctx) and len(specs) > 1:
            ctx.log("the ensemble answers too slowly: the best single candidate instead")
            best = search.specs[search.best(1)[0][0]]
            write_linear_package(ctx, labels, search.refit([(best, 1)], texts, y), best.name)
            name = best.name
        if not self._within_latency(ctx):
            raise DataError(
                f"no text model answers within max_inference_ms={ctx.params.max_inference_ms} "
                f"(fastest: {self._latency(ctx):.3f} ms on CPU)"
            )
        return name

    def _transformer(
        self,
        ctx: TrainContext,
        search: _Search,
        members: list[tuple[int, int]],
        texts: list[str],
        y: np.ndarray,
        labels: list[str],
        tried: list[dict[str, Any]],
    ) -> str | None:
        """A BERT-tiny on the first fold, when the budget leaves room; kept only if it beats the linear
        ensemble on that fold's validation texts."""
        left = ctx.remaining_seconds() - ctx.packaging_margin_seconds - search.refit_seconds(members)
        if (
            ctx.params.preference == "performance_first"
            or left < MIN_TRANSFORMER_SECONDS
            or ctx.should_stop()
        ):
            if ctx.params.preference != "performance_first":
                tried.append(
                    {
                        "name": "bert-tiny",
                        "skipped": f"{max(left, 0):.0f} s left (needs {MIN_TRANSFORMER_SECONDS:.0f} s)",
                    }
                )
            return None
        import torch  # noqa: F401  # imported before the clock starts: seconds of import, not of training
        import transformers  # noqa: F401  # likewise

        from trainer.engines.text_classification.models import fit_transformer  # torch: only when needed

        left = ctx.remaining_seconds() - ctx.packaging_margin_seconds - search.refit_seconds(members)
        seconds = left * (1 - EXPORT_SHARE) - EXPORT_SECONDS  # the ONNX export and its check follow
        if seconds <= 0:
            return None
        train_rows, valid_rows = search.folds[0]
        fitted = fit_transformer(
            [texts[i] for i in train_rows],
            y[train_rows],
            [texts[i] for i in valid_rows],
            y[valid_rows],
            len(labels),
            ctx.work_dir / "bert-tiny",
            name="bert-tiny",
            seconds=seconds,
            should_stop=ctx.should_stop,
            seed=ctx.params.seed,
            on_epoch=lambda point: ctx.curve("training", candidate="bert-tiny", **point),
        )
        write_manifest(
            fitted.folder,
            {
                "task_type": "text_classification",
                "labels": labels,
                "artifacts": fitted.artifacts,
                "preprocessing": fitted.preprocessing,
            },
        )
        predictor = load_predictor(fitted.folder)
        assert isinstance(predictor, TextPredictor)
        accuracy = float(
            np.mean(
                predictor.probabilities_batch([texts[i] for i in valid_rows]).argmax(axis=1) == y[valid_rows]
            )
        )
        linear = search.fold_accuracy(members, 0)
        tried.append(
            {
                "name": "bert-tiny",
                "score": round(accuracy, 5),
                "linear_score": round(linear, 5),
                "seconds": round(fitted.seconds, 2),
                **fitted.parameters,
            }
        )
        ctx.log(f"bert-tiny: accuracy {accuracy:.4f} vs {linear:.4f} for the linear ensemble on fold 1")
        if accuracy <= linear:
            return None
        ctx.report(92, "packaging")
        ctx.package_dir.mkdir(parents=True, exist_ok=True)
        for relative in fitted.artifacts.values():
            shutil.copy2(fitted.folder / relative, ctx.package_dir / relative)
        _write_manifest(
            ctx,
            labels,
            fitted.artifacts,
            fitted.preprocessing,
            fitted.parameters,
            "bert-tiny",
            {"onnx_check": fitted.details["onnx_check"]},
        )
        return "bert-tiny"

    # -- evaluation -----------------------------------------------------------------------------------
    def _latency(self, ctx: TrainContext) -> float:
        predictor = load_predictor(ctx.package_dir)
        typical = sorted((s for s in (_text_of(x) for x in ctx.data.train) if s.strip()), key=len)
        payload = (typical[len(typical) // 2] if typical else "text").encode("utf-8")
        return measure_latency_ms(lambda: predictor.predict(payload), budget_seconds=0.3)

    def _within_latency(self, ctx: TrainContext) -> bool:
        limit = ctx.params.max_inference_ms
        return limit is None or self._latency(ctx) <= limit

    def _evaluate(
        self, ctx: TrainContext, labels: list[str], valid: list[tuple[str, str]]
    ) -> tuple[dict[str, Any], float]:
        predictor = load_predictor(ctx.package_dir)
        assert isinstance(predictor, TextPredictor)
        probabilities = predictor.probabilities_batch([t for t, _ in valid])
        predicted = [labels[int(i)] for i in probabilities.argmax(axis=1)]
        metrics = classification_metrics([lab for _, lab in valid], predicted, labels)
        latency = round(self._latency(ctx), 3)
        manifest = read_manifest(ctx.package_dir)
        metrics.update(
            latency_ms=latency,
            latency_hardware="CPU",
            max_inference_ms=ctx.params.max_inference_ms,
            **manifest.pop("details", {}),
        )
        manifest["metrics"] = metrics
        write_manifest(ctx.package_dir, {k: v for k, v in manifest.items() if k != "format_version"})
        return metrics, latency

    def _quality(
        self,
        ctx: TrainContext,
        search: _Search,
        texts: list[str],
        y: np.ndarray,
        labels: list[str],
        valid: list[tuple[str, str]],
        metrics: dict[str, Any],
    ) -> QualityReport:
        """Majority class, and TF-IDF char 1-3 + logistic regression refit on all training texts, on the
        version's validation texts."""
        truth = np.array([labels.index(lab) for _, lab in valid])
        majority = int(np.bincount(y, minlength=len(labels)).argmax())
        trivial = Baseline("majority class", float(np.mean(truth == majority)))
        simple = None
        if ctx.remaining_seconds() > search.refit_seconds([(0, 1)]):
            blocks, weights = search.refit([(BASELINE, 1)], texts, y)
            x = blocks[BASELINE.blocks[0]].transform([t for t, _ in valid])
            accuracy = float(np.mean(weights[0][0].probabilities(x).argmax(axis=1) == truth))
            simple = Baseline("TF-IDF char 1-3 + logistic regression", accuracy)
        return QualityReport("accuracy", True, metrics["accuracy"], trivial, simple)


class _Search:
    """Candidates scored on the same validation folds; their out-of-fold probabilities kept for the ensemble."""

    def __init__(
        self, ctx: TrainContext, texts: list[str], y: np.ndarray, n_classes: int, plan: dict[str, Any]
    ) -> None:
        self.ctx, self.texts, self.y, self.n_classes = ctx, texts, y, n_classes
        self.specs: list[LinearSpec] = plan["candidates"]
        self.folds = _folds(y, plan["folds"], ctx.params.seed)
        self.rows = np.concatenate([v for _, v in self.folds])
        self.min_df = plan["min_df"]
        self.cache: dict[tuple[int, str], tuple[Any, Any]] = {}  # (fold, block) -> train, valid matrices
        self.block_seconds: dict[str, float] = {}
        self.scores: dict[int, dict[str, Any]] = {}  # spec index -> loss, accuracy, oof, seconds, temperature
        self.cut_short = False

    def run(self) -> list[dict[str, Any]]:
        tried = []
        started = time.monotonic()
        for index, spec in enumerate(self.specs):
            if self.scores and (self.ctx.should_stop() or self._no_time(index)):
                self.cut_short = True
                tried += [{"name": s.name, "skipped": "budget"} for s in self.specs[index:]]
                break
            entry = self._score(index, spec)
            tried.append(entry)
            best = min(s["loss"] for s in self.scores.values())
            self.ctx.curve(
                "candidates", candidate=spec.name, accuracy=entry["score"], log_loss=entry["log_loss"]
            )
            self.ctx.report(
                5 + 80 * (index + 1) / len(self.specs), "training", {"best_log_loss": round(best, 5)}
            )
            self.ctx.log(
                f"{spec.name}: accuracy {entry['score']:.4f}, log loss {entry['log_loss']:.4f} "
                f"({entry['seconds']:.1f}s)"
            )
        self.ctx.log(f"search: {len(self.scores)} candidate(s) in {time.monotonic() - started:.1f}s")
        return tried

    def _no_time(self, index: int) -> bool:
        """Would the next candidate, then the refit of an ensemble, overrun the budget?"""
        spec = self.specs[index]
        new_blocks = sum(
            self.block_seconds.get(b, max(self.block_seconds.values(), default=1.0)) * len(self.folds)
            for b in spec.blocks
            if (0, b) not in self.cache
        )
        typical = statistics.median(s["seconds"] for s in self.scores.values())
        left = self.ctx.remaining_seconds() - self.ctx.packaging_margin_seconds
        return left < new_blocks + typical + self.refit_seconds(self.best(3))

    def refit_seconds(self, members: list[tuple[int, int]]) -> float:
        blocks = {b for i, _ in members for b in self.specs[i].blocks}
        fits = sum(self.scores.get(i, {}).get("seconds", 1.0) / len(self.folds) for i, _ in members)
        return REFIT_FACTOR * (sum(self.block_seconds.get(b, 1.0) for b in blocks) + fits) + 1.0

    def _matrices(self, fold: int, block: str) -> tuple[Any, Any]:
        if (fold, block) not in self.cache:
            train_rows, valid_rows = self.folds[fold]
            t0 = time.monotonic()
            vectorizer = fit_blocks([block], [self.texts[i] for i in train_rows], self.min_df)[block]
            self.cache[(fold, block)] = (
                vectorizer.transform([self.texts[i] for i in train_rows]),
                vectorizer.transform([self.texts[i] for i in valid_rows]),
            )
            self.block_seconds[block] = time.monotonic() - t0
        return self.cache[(fold, block)]

    def _features(self, fold: int, spec: LinearSpec) -> tuple[Any, Any]:
        from scipy.sparse import hstack

        parts = [self._matrices(fold, b) for b in spec.blocks]
        if len(parts) == 1:
            return parts[0]
        return hstack([p[0] for p in parts]).tocsr(), hstack([p[1] for p in parts]).tocsr()

    def _score(self, index: int, spec: LinearSpec) -> dict[str, Any]:
        oof, seconds, temperatures = [], 0.0, []
        for fold, (train_rows, valid_rows) in enumerate(self.folds):
            x_train, x_valid = self._features(fold, spec)
            weights = fit_weights(spec, x_train, self.y[train_rows], self.n_classes, self.ctx.params.seed)
            calibrate(weights, x_valid, self.y[valid_rows])
            oof.append(weights.probabilities(x_valid))
            seconds += weights.seconds
            temperatures.append(weights.temperature)
        probabilities = np.vstack(oof)
        truth = self.y[self.rows]
        loss = _log_loss(probabilities, truth)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == truth))
        self.scores[index] = {
            "loss": loss,
            "accuracy": accuracy,
            "oof": probabilities,
            "seconds": seconds,
            "temperature": float(np.exp(np.mean(np.log(temperatures)))),
        }
        return {
            "name": spec.name,
            "model": spec.model,
            "C": spec.c,
            "blocks": list(spec.blocks),
            "score": round(accuracy, 5),
            "log_loss": round(loss, 5),
            "seconds": round(seconds, 2),
        }

    def best(self, count: int) -> list[tuple[int, int]]:
        ranked = sorted(self.scores, key=lambda i: self.scores[i]["loss"])
        return [(i, 1) for i in ranked[:count]]

    def ensemble(self, pool: int = 6) -> list[tuple[int, int]]:
        """Greedy selection with replacement on the out-of-fold probabilities (Caruana et al. 2004)."""
        ranked = [i for i, _ in self.best(pool)]
        truth = self.y[self.rows]
        chosen = {ranked[0]: 1}
        total, best_loss = self.scores[ranked[0]]["oof"].copy(), self.scores[ranked[0]]["loss"]
        for step in range(2, ENSEMBLE_ROUNDS + 1):
            loss, pick = min((_log_loss((total + self.scores[i]["oof"]) / step, truth), i) for i in ranked)
            if loss >= best_loss - 1e-5:
                break
            total, best_loss = total + self.scores[pick]["oof"], loss
            chosen[pick] = chosen.get(pick, 0) + 1
        if len(chosen) > 1:
            self.ctx.log(
                f"ensemble: {', '.join(f'{self.specs[i].name} x{w}' for i, w in chosen.items())}, "
                f"log loss {best_loss:.4f} (best single {self.scores[ranked[0]]['loss']:.4f})"
            )
        return list(chosen.items())

    def fold_accuracy(self, members: list[tuple[int, int]], fold: int) -> float:
        start = sum(len(v) for _, v in self.folds[:fold])
        size = len(self.folds[fold][1])
        mixed = sum(w * self.scores[i]["oof"][start : start + size] for i, w in members)
        return float(np.mean(mixed.argmax(axis=1) == self.y[self.folds[fold][1]]))

    def refit(
        self, specs: list[tuple[LinearSpec, int]], texts: list[str], y: np.ndarray
    ) -> tuple[dict[str, Any], list[tuple[Weights, tuple[str, ...], int]]]:
        """Vectorizers of the members' blocks and each member's weights, fit on every training text."""
        from scipy.sparse import hstack

        names = list(dict.fromkeys(b for s, _ in specs for b in s.blocks))
        vectorizers = fit_blocks(names, texts, self.min_df)
        matrices = {b: vectorizers[b].transform(texts) for b in names}
        out = []
        for spec, weight in specs:
            x = (
                matrices[spec.blocks[0]]
                if len(spec.blocks) == 1
                else hstack([matrices[b] for b in spec.blocks])
            )
            fitted = fit_weights(spec, x.tocsr(), y, self.n_classes, self.ctx.params.seed)
            index = self.specs.index(spec) if spec in self.specs else None
            fitted.temperature = self.scores[index]["temperature"] if index in self.scores else 1.0
            out.append((fitted, spec.blocks, weight))
        return vectorizers, out


def _plan(ctx: TrainContext, texts: list[str]) -> dict[str, Any]:
    """Validation folds from the corpus size; word n-grams only for texts written with spaces."""
    n = len(texts)
    spaced = float(np.mean([t.count(" ") / max(1, len(t)) for t in texts])) if texts else 0.0
    candidates = list(CANDIDATES[ctx.params.preference])
    why = "characters only: the texts are not written with spaces (e.g. Chinese)"
    if spaced > 0.08 and ctx.params.preference != "performance_first":
        candidates += _WORD
        why = f"word n-grams too: {spaced:.0%} of the characters are spaces"
    folds = 3 if n <= CV_MAX_TEXTS else 1
    return {
        "validation": f"{folds}-fold cross-validation ({n} texts)"
        if folds > 1
        else f"one inner 20 % split ({n} texts)",
        "folds": folds,
        "min_df": 2 if n >= 1000 else 1,
        "candidates": candidates,
        "why": why,
        "preset": ctx.params.preference,
    }


def _folds(y: np.ndarray, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    index = np.arange(len(y))
    stratify = np.bincount(y).min() >= max(count, 2) if len(y) else False
    if count > 1:
        splitter = (
            StratifiedKFold(count, shuffle=True, random_state=seed)
            if stratify
            else KFold(count, shuffle=True, random_state=seed)
        )
        return list(splitter.split(index, y if stratify else None))
    a, b = train_test_split(index, test_size=0.2, random_state=seed, stratify=y if stratify else None)
    return [(np.sort(a), np.sort(b))]


def _write_manifest(
    ctx: TrainContext,
    labels: list[str],
    artifacts: dict[str, str],
    preprocessing: dict[str, Any],
    parameters: dict[str, Any],
    candidate: str,
    details: dict[str, Any],
) -> None:
    from trainer.engines.common.latency import library_versions

    write_manifest(
        ctx.package_dir,
        {
            "task_type": "text_classification",
            "labels": labels,
            "artifacts": artifacts,
            "preprocessing": preprocessing,
            "metrics": {},
            "parameters": {
                "preference": ctx.params.preference,
                **parameters,
                "incremental": ctx.params.incremental_package_dir is not None,
            },
            "engine": {
                "name": "text_classification",
                "candidate": candidate,
                "versions": library_versions("scikit-learn", "numpy", "torch", "onnxruntime"),
            },
            "dataset": dict(ctx.data.dataset),
            "details": details,
        },
    )


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0))))


def _text_of(sample: Sample) -> str:
    if sample.text is not None:
        return sample.text
    if sample.path is not None:
        try:
            return sample.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{sample.path.name}: the text is not valid UTF-8") from exc
    return ""


def _split(ctx: TrainContext, labels: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    def usable(samples: list[Sample]) -> list[tuple[str, str]]:
        pairs = [(_text_of(s), s.labels[0]) for s in samples if s.labels and s.labels[0] in labels]
        return [(t, lab) for t, lab in pairs if t.strip()]

    if len(labels) < 2:
        raise DataError(f"text classification needs at least 2 labels, the version has {len(labels)}")
    train, valid = usable(ctx.data.train), usable(ctx.data.eval)
    if not valid:  # no split in the version: hold out a stratified share of the training texts
        rng = np.random.default_rng(ctx.params.seed)
        keep, hold = [], []
        for label in labels:
            group = [p for p in train if p[1] == label]
            order = rng.permutation(len(group))
            n_hold = round(len(group) * (1 - ctx.params.train_ratio)) if len(group) > 1 else 0
            hold += [group[i] for i in order[:n_hold]]
            keep += [group[i] for i in order[n_hold:]]
        train, valid = keep, hold
    if len({lab for _, lab in train}) < 2 or not valid:
        raise DataError(
            f"{len(train)} training and {len(valid)} validation text(s) of "
            f"{len({lab for _, lab in train})} class(es): too few to train"
        )
    return train, valid
