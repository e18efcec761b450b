"""Sound classification engine: clip statistics + linear/boosted models, a log-mel CNN when time allows, and
their ensembles, chosen on validation.

1. *Preparing data*: every WAV file (16-bit PCM, any rate and channel count) is decoded once, mixed down,
   resampled to 16 kHz and turned into its log-mel matrix and clip statistics (:mod:`.data`), in parallel.
2. *Planning* (:mod:`.plan`): from the clip counts and lengths, the predictor's measured latency on a typical
   clip and the measured cost of a training step of each network width, what to train and for how long;
   written into ``EngineResult.plan`` and the job's log.
3. *Training*: logistic regression and LightGBM on the statistics, their settings chosen on the training clips
   (:mod:`.classical`), then the network when planned, for its planned epochs (:mod:`.network`). Nothing is
   tuned on the validation clips but the final choice, so validation scores stay honest.
4. *Evaluating*: each model and each ensemble (mean of probabilities) of them is scored on the validation
   split (accuracy, then log-loss) with the predictor's own model classes; those whose estimated latency
   exceeds ``max_inference_ms`` are left out; ``performance_first`` considers single models only.
5. *Packaging* (:mod:`.package`): the chosen models in one package, its metrics computed by its predictor.

``EngineResult.quality`` compares the package with the majority class and with the best statistics model on
the same validation clips. Incremental training: a previous package's network (same log-mel spec) is the
network candidate and its starting point; the statistics models are fitted afresh (they take seconds).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from threadpoolctl import threadpool_limits

from shared.packages.sound import DEFAULT_SPEC, windows
from shared.packages.sound_features import STATS_SPEC
from trainer.engines.base import DataError, EngineError, EngineResult, Sample, TrainContext
from trainer.engines.sound_classification import classical, plan, selection
from trainer.engines.sound_classification.classical import Fitted, scores
from trainer.engines.sound_classification.data import SoundJob, prepare, split, summary
from trainer.engines.sound_classification.package import write_package
from trainer.quality import selection_cost, worth_choosing

__all__ = ["SoundClassificationEngine"]

FAMILIES = ("logreg", "lightgbm", "cnn")  # params.extra["sound_models"] may restrict the portfolio to some
SELECTION = (
    "validation accuracy, then log-loss; single models and mean-probability ensembles within "
    "max_inference_ms (performance_first: single models)"
)
LINEAR_SECONDS = 2.0  # 3 C values x 4 folds + a refit on 240 clips: about 1 s measured
BOOSTED_SHARE = 0.2  # LightGBM stops early (usually 1–5 s) or at this share of the time left
PACKAGE_SECONDS = 2.0  # export, ONNX check, predictor latency and evaluation beyond the validation pass


class SoundClassificationEngine:
    name: ClassVar[str] = "sound_classification"
    task_types: ClassVar[tuple[str, ...]] = ("sound_classification",)

    def train(self, ctx: TrainContext) -> EngineResult:
        # Every BLAS product here is small (mel filterbank, logistic regression): one thread. On two busy cores
        # OpenBLAS's own threads made the filterbank product of one clip 5–40 times slower (0.12 ms → 1–6 ms).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._train(ctx)

    def _train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        job, train_samples = _prepare(ctx)

        ctx.report(8, "planning")
        typical = selection.typical_payload(train_samples)
        costs = selection.feature_costs(typical, job.spec)
        selection.refuse_impossible_latency(ctx, costs)
        job.previous = _previous_network(job)
        choice = _plan_network(job, costs)
        the_plan: dict[str, Any] = {
            "data": summary(job),
            "machine": _machine(),
            "latency_ms": costs,
            "families": list(job.families),
            "network": asdict(choice),
            "selection": SELECTION,
        }
        ctx.log(f"plan: data {the_plan['data']}")
        ctx.log(f"plan: latency parts (ms) {costs}; network: {choice.why}; measured {choice.measured}")

        ctx.report(15, "training")
        fitted, tried, stopped = _fit(job, choice)

        ctx.report(85, "evaluating")
        candidates = selection.candidates(ctx, fitted, job.valid, costs, typical, job.spec, tried)
        usable = [c for c in candidates if "skipped" not in c]
        if not usable:
            raise DataError(f"no sound model answers within max_inference_ms={ctx.params.max_inference_ms}")
        # how many validation scores the choice was the best of: the quality gate shares its 5 % among them
        # (the best of several is expected above chance on noise). On a split too small for that, the default.
        n, trivial = len(job.valid.y), selection.majority_share(job.train, job.valid)
        if worth_choosing(n, trivial, len(usable)):
            best, compared = max(usable, key=lambda c: c["_key"]), len(usable)
            ctx.log(
                f"chosen: {best['name']} (validation accuracy {best['score']:.4f}, the best of {compared})"
            )
        else:
            best, compared = selection.default(usable), 1
            the_plan["selection"] = (
                f"the default (the ensemble of the most models within max_inference_ms): as the best of "
                f"{len(usable)} on {n} validation clips a model would need "
                f"{selection_cost(n, trivial, len(usable)):.0%} of them right to pass the gate"
            )
            ctx.log(f"delivered: {best['name']} ({the_plan['selection']})")
        the_plan["selection_compared"] = compared

        ctx.report(90, "packaging")
        metrics = write_package(ctx, best["name"], best["_members"], job.labels, job.spec, job.valid, typical)
        return EngineResult(
            engine=self.name,
            candidate=best["name"],
            metrics=metrics,
            candidates=[{k: v for k, v in c.items() if not k.startswith("_")} for c in candidates],
            stopped_early=stopped or ctx.stop_requested(),
            quality=selection.quality_report(metrics, fitted, job.train, job.valid, compared),
            plan=the_plan,
        )


def _prepare(ctx: TrainContext) -> tuple[SoundJob, list[Sample]]:
    """Every clip decoded and featurised once; the job every later stage reads, and the training samples."""
    started = time.monotonic()
    spec = {**DEFAULT_SPEC, "statistics": dict(STATS_SPEC)}
    labels = list(ctx.data.labels) or sorted({s.labels[0] for s in ctx.data.train if s.labels})
    families = _families(ctx)
    train_samples, valid_samples = split(ctx, labels)
    # the network's noisy copies are made with the clips, if a network may be trained at all
    network_possible = "cnn" in families and (
        bool(plan.NETWORKS[ctx.params.preference])
        or _forced_network(ctx)
        or ctx.params.incremental_package_dir is not None
    )
    train = prepare(train_samples, labels, spec, noisy_seed=ctx.params.seed if network_possible else None)
    valid = prepare(valid_samples, labels, spec)
    seconds = time.monotonic() - started
    ctx.log(
        f"sound: {len(train.y)} training and {len(valid.y)} validation clips, {len(labels)} classes, "
        f"decoded and featurised in {seconds:.1f} s"
    )
    work = Path(ctx.work_dir) / "sound-candidates"
    return SoundJob(ctx, spec, labels, families, train, valid, work, seconds), train_samples


def _plan_network(job: SoundJob, costs: dict[str, float]) -> plan.NetworkChoice:
    """Which network width to train and for how many epochs (none: statistics models only)."""
    ctx = job.ctx
    forced = _forced_network(ctx)
    names = plan.NETWORKS[ctx.params.preference] or (("cnn-small",) if forced else ())
    names = (job.previous["candidate"],) if job.previous else names if "cnn" in job.families else ()
    if ctx.params.max_inference_ms is not None:
        names = selection.networks_within_latency(ctx, names, costs)
    seconds = (_network_seconds(job) - LINEAR_SECONDS) * (1 - BOOSTED_SHARE)
    if not names or seconds <= 0:
        why = (
            f"no network: {ctx.params.preference} serves the fastest answers (statistics models only)"
            if not names
            else f"no network: {max(0.0, seconds):.0f} s left"
        )
        return plan.NetworkChoice(None, 0, max(0.0, seconds), why=why)
    from trainer.engines.sound_classification.model import ARCHITECTURES, batch_size_for, measure_step_seconds
    from trainer.engines.sound_classification.network import clips_for_network

    probe = clips_for_network(job.train, with_noisy=False)[:64]
    n_train = len(job.train.y)
    return plan.choose_network(
        names,
        seconds,
        lambda name: measure_step_seconds(ARCHITECTURES[name], len(job.labels), probe, job.spec),
        n_train,
        sum(windows(m, job.spec).shape[0] for m in job.valid.mels),
        batch_size_for(n_train),
        least=1 if forced else None,
        warm=job.previous is not None,
    )


def _fit(job: SoundJob, choice: plan.NetworkChoice) -> tuple[list[Fitted], list[dict[str, Any]], bool]:
    """The statistics models, then the network when planned: (fitted models, C values tried, stopped)."""
    ctx, train, valid, n_classes = job.ctx, job.train, job.valid, len(job.labels)
    fitted: list[Fitted] = []
    tried: list[dict[str, Any]] = []
    stopped = False
    if "logreg" in job.families:
        linear, tried = classical.fit_linear(
            train.stats, train.y, valid.stats, n_classes, job.work, ctx.params.seed
        )
        fitted.append(linear)
    if "lightgbm" in job.families and not (fitted and ctx.should_stop()):
        seconds = max(2.0, BOOSTED_SHARE * _network_seconds(job))
        fitted.append(
            classical.fit_boosted(
                train.stats,
                train.y,
                valid.stats,
                n_classes,
                job.work,
                ctx.params.seed,
                seconds,
                ctx.should_stop,
            )
        )
    ctx.report(25, "training")
    if choice.name is not None and not (fitted and ctx.should_stop()):
        network, stopped = _train_network(job, choice)
        fitted.append(network)
    if not fitted:
        raise EngineError(f"no sound model could be trained in {ctx.params.max_training_seconds:.0f} s")
    for f in fitted:
        accuracy = scores(f.valid_probabilities, valid.y)[0]
        ctx.log(f"{f.name}: validation accuracy {accuracy:.4f} ({f.seconds:.1f} s)")
    return fitted, tried, stopped


def _train_network(job: SoundJob, choice: plan.NetworkChoice) -> tuple[Fitted, bool]:
    """The planned network, its epochs scaled to the time actually left once the statistics models are done."""
    from trainer.engines.sound_classification.network import fit_network

    assert choice.name is not None
    seconds = max(0.0, _network_seconds(job))
    epochs = max(1, min(choice.epochs, int(choice.epochs * seconds / max(choice.seconds, 1e-6))))

    def on_epoch(point: dict[str, Any]) -> None:
        job.ctx.curve("training", candidate=choice.name, **point)
        percent = 25 + 60 * min(1.0, point["epoch"] / epochs)
        job.ctx.report(percent, "training", {"val_accuracy": point["val_accuracy"]})

    return fit_network(job, choice.name, epochs, seconds, on_epoch)


def _forced_network(ctx: TrainContext) -> bool:
    """``params.extra["sound_models"]`` names the network: trained whatever the preference."""
    return "cnn" in ctx.params.extra.get("sound_models", ())


def _previous_network(job: SoundJob) -> dict[str, Any] | None:
    if job.ctx.params.incremental_package_dir is None or "cnn" not in job.families:
        return None
    from trainer.engines.sound_classification.network import previous_network

    return previous_network(job.ctx, job.spec, job.labels)


def _families(ctx: TrainContext) -> tuple[str, ...]:
    """The model families to train: all of :data:`FAMILIES`, or those ``params.extra["sound_models"]`` names."""
    asked = ctx.params.extra.get("sound_models")
    if asked is None:
        return FAMILIES
    unknown = sorted(set(asked) - set(FAMILIES))
    if unknown or not asked:
        raise EngineError(f"sound_models {list(asked)}: choose among {list(FAMILIES)}")
    return tuple(f for f in FAMILIES if f in asked)


def _network_seconds(job: SoundJob) -> float:
    """Seconds left for training: the budget minus the packaging margin, or what packaging will take when
    that is more (evaluation of the validation clips through every model, export, latency)."""
    packaging = PACKAGE_SECONDS + 0.03 * len(job.valid.y)
    return job.ctx.remaining_seconds() - max(job.ctx.packaging_margin_seconds, packaging)


def _machine() -> dict[str, Any]:
    """Cores, and the GPU and torch threads when a network was considered (torch is imported only then)."""
    machine: dict[str, Any] = {"cores": os.cpu_count(), "blas_threads": 1}
    if "torch" in sys.modules:
        from trainer.engines.common.torch_setup import torch_threads

        machine.update(gpu=bool(sys.modules["torch"].cuda.is_available()), torch_threads=torch_threads())
    return machine
