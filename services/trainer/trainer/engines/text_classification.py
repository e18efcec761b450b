"""Text classification engine: TF-IDF linear models and small transformers, picked on validation.

Chinese first (character n-grams need no word segmentation), any language works. The portfolio
(:data:`PORTFOLIO`, by preference) holds character n-gram TF-IDF + logistic regression variants (fast,
strong on small corpora) and, when the budget allows, small BERTs with a WordPiece vocabulary trained on the
data (:mod:`trainer.engines.text_models`). Every candidate is written as a package and scored on the
validation split *through the package predictor*, its latency measured the same way; candidates over
``max_inference_ms`` are never chosen. The best one (accuracy, then log-loss; with ``performance_first`` the
fastest within one point of the best accuracy) becomes the package.
"""

from __future__ import annotations

import shutil
import statistics
import time
from typing import Any, ClassVar

import numpy as np

from shared.packages import load_predictor, read_manifest, write_manifest
from shared.packages.text import TextPredictor
from trainer.engines.base import DataError, EngineResult, Sample, TrainContext
from trainer.engines.text_models import Fitted, fit_tfidf, fit_transformer
from trainer.metrics import classification_metrics

__all__ = ["PORTFOLIO", "TextClassificationEngine"]

# ("tfidf", ngram_range, C) or ("transformer", name)
PORTFOLIO: dict[str, tuple[tuple[Any, ...], ...]] = {
    "performance_first": (("tfidf", (1, 2), 10.0), ("tfidf", (1, 2), 1.0), ("tfidf", (1, 3), 10.0)),
    "balance": (
        ("tfidf", (1, 2), 10.0),
        ("tfidf", (1, 2), 1.0),
        ("tfidf", (1, 3), 10.0),
        ("tfidf", (1, 3), 1.0),
        ("tfidf", (1, 3), 100.0),
        ("transformer", "bert-tiny"),
    ),
    "accuracy_first": (
        ("tfidf", (1, 2), 10.0),
        ("tfidf", (1, 2), 1.0),
        ("tfidf", (1, 3), 10.0),
        ("tfidf", (1, 3), 1.0),
        ("tfidf", (1, 3), 100.0),
        ("tfidf", (2, 4), 10.0),
        ("transformer", "bert-tiny"),
        ("transformer", "bert-mini"),
    ),
}
MIN_TRANSFORMER_SECONDS = 15.0  # below this a transformer is not started
PACKAGE_SECONDS = 3.0


class TextClassificationEngine:
    name: ClassVar[str] = "text_classification"
    task_types: ClassVar[tuple[str, ...]] = ("text_classification",)

    def train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        labels = list(ctx.data.labels) or sorted({s.labels[0] for s in ctx.data.train if s.labels})
        train, valid = _split(ctx, labels)
        texts, y = [t for t, _ in train], np.array([labels.index(lab) for _, lab in train])
        valid_texts = [t for t, _ in valid]
        valid_y = np.array([labels.index(lab) for _, lab in valid])
        typical = sorted(texts, key=len)[len(texts) // 2]
        ctx.log(f"text: {len(train)} training and {len(valid)} validation texts, {len(labels)} classes")
        if ctx.params.incremental_package_dir is not None:
            previous = read_manifest(ctx.params.incremental_package_dir)
            ctx.log(
                f"incremental training: refitting on this version (previous candidate "
                f"{previous.get('engine', {}).get('candidate')}) - text models train from scratch in seconds"
            )

        portfolio = PORTFOLIO[ctx.params.preference]
        tried: list[dict[str, Any]] = []
        scored: list[tuple[dict[str, Any], Fitted]] = []
        stopped = False
        slowest_tfidf = 0.0
        for index, spec in enumerate(portfolio):
            if scored and ctx.should_stop():
                stopped = True
                break
            folder = ctx.work_dir / "text-candidates" / f"c{index}"
            left = ctx.remaining_seconds() - ctx.packaging_margin_seconds - PACKAGE_SECONDS
            if spec[0] == "tfidf":
                if scored and left < 1.5 * slowest_tfidf:
                    tried.append(
                        {
                            "name": f"char-tfidf{spec[1][0]}{spec[1][1]}-lr-c{spec[2]:g}",
                            "skipped": f"{left:.0f} s of budget left",
                        }
                    )
                    continue
                fitted = fit_tfidf(
                    texts, y, len(labels), folder, ngram_range=spec[1], c=spec[2], seed=ctx.params.seed
                )
                slowest_tfidf = max(slowest_tfidf, fitted.seconds)
            else:
                transformers_left = sum(1 for s in portfolio[index:] if s[0] == "transformer")
                seconds = left / transformers_left
                if seconds < MIN_TRANSFORMER_SECONDS:
                    tried.append({"name": spec[1], "skipped": f"{seconds:.0f} s of budget left"})
                    continue
                fitted = fit_transformer(
                    texts,
                    y,
                    valid_texts,
                    valid_y,
                    len(labels),
                    folder,
                    name=spec[1],
                    seconds=seconds,
                    should_stop=ctx.should_stop,
                    seed=ctx.params.seed,
                    on_epoch=lambda point, n=spec[1]: ctx.curve("training", candidate=n, **point),
                )
                stopped = stopped or fitted.details["stopped"]
            entry = self._score(ctx, fitted, labels, valid_texts, valid, typical)
            tried.append(entry)
            ctx.curve(
                "candidates", candidate=entry["name"], accuracy=entry["score"], latency_ms=entry["latency_ms"]
            )
            ctx.report(
                5 + 85 * (index + 1) / len(portfolio),
                "search",
                {"best_accuracy": max([e["score"] for e, _ in scored] + [entry["score"]])},
            )
            ctx.log(f"{entry['name']}: accuracy {entry['score']:.4f}, {entry['latency_ms']:.2f} ms")
            if "rejected" in entry:
                continue
            scored.append((entry, fitted))
        if not scored:
            raise DataError(
                f"no text model answers within max_inference_ms={ctx.params.max_inference_ms} "
                f"(fastest: {min(e['latency_ms'] for e in tried if 'latency_ms' in e)} ms on CPU)"
            )
        chosen, fitted = _choose(scored, ctx.params.preference)

        ctx.report(92, "packaging")
        metrics = self._package(ctx, fitted, chosen, labels, valid)
        return EngineResult(
            engine=self.name,
            candidate=fitted.name,
            metrics=metrics,
            candidates=tried,
            stopped_early=stopped or ctx.stop_requested(),
        )

    def _score(
        self,
        ctx: TrainContext,
        fitted: Fitted,
        labels: list[str],
        valid_texts: list[str],
        valid: list[tuple[str, str]],
        typical: str,
    ) -> dict[str, Any]:
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
        probabilities = predictor.probabilities_batch(valid_texts)
        predicted = [labels[int(i)] for i in probabilities.argmax(axis=1)]
        metrics = classification_metrics([lab for _, lab in valid], predicted, labels)
        truth = np.array([labels.index(lab) for _, lab in valid])
        log_loss = float(-np.log(np.maximum(probabilities[np.arange(len(truth)), truth], 1e-12)).mean())
        payload = typical.encode("utf-8")
        latency = _latency_ms(lambda: predictor.predict(payload))
        entry = {
            "name": fitted.name,
            "score": round(metrics["accuracy"], 5),
            "f1": round(metrics["f1"], 5),
            "log_loss": round(log_loss, 5),
            "latency_ms": round(latency, 3),
            "seconds": round(fitted.seconds, 2),
            **fitted.parameters,
        }
        limit = ctx.params.max_inference_ms
        if limit is not None and latency > limit:
            entry["rejected"] = f"latency {latency:.2f} ms > max_inference_ms {limit}"
        return entry

    def _package(
        self,
        ctx: TrainContext,
        fitted: Fitted,
        chosen: dict[str, Any],
        labels: list[str],
        valid: list[tuple[str, str]],
    ) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        folder = ctx.package_dir
        folder.mkdir(parents=True, exist_ok=True)
        for relative in fitted.artifacts.values():
            shutil.copy2(fitted.folder / relative, folder / relative)
        versions = {}
        for lib in ("scikit-learn", "numpy", "torch", "transformers", "tokenizers", "onnxruntime"):
            try:
                versions[lib] = version(lib)
            except PackageNotFoundError:
                continue
        manifest = {
            "task_type": "text_classification",
            "labels": labels,
            "artifacts": fitted.artifacts,
            "preprocessing": fitted.preprocessing,
            "metrics": {},
            "parameters": {
                "preference": ctx.params.preference,
                **fitted.parameters,
                "incremental": ctx.params.incremental_package_dir is not None,
            },
            "engine": {"name": self.name, "candidate": fitted.name, "versions": versions},
            "dataset": dict(ctx.data.dataset),
        }
        write_manifest(folder, manifest)
        predictor = load_predictor(folder)
        assert isinstance(predictor, TextPredictor)
        probabilities = predictor.probabilities_batch([t for t, _ in valid])
        predicted = [labels[int(i)] for i in probabilities.argmax(axis=1)]
        metrics = classification_metrics([lab for _, lab in valid], predicted, labels)
        metrics.update(
            latency_ms=chosen["latency_ms"],
            latency_hardware="CPU",
            max_inference_ms=ctx.params.max_inference_ms,
            **fitted.details,
        )
        metrics.pop("stopped", None)
        manifest["metrics"] = metrics
        write_manifest(folder, manifest)
        return metrics


def _choose(scored: list[tuple[dict[str, Any], Fitted]], preference: str) -> tuple[dict[str, Any], Fitted]:
    best = max(scored, key=lambda item: (item[0]["score"], -item[0]["log_loss"], -item[0]["latency_ms"]))
    if preference != "performance_first":
        return best
    close = [item for item in scored if item[0]["score"] >= best[0]["score"] - 0.01]
    return min(close, key=lambda item: item[0]["latency_ms"])


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


def _latency_ms(run: Any, budget_seconds: float = 0.3, max_runs: int = 30) -> float:
    run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)
