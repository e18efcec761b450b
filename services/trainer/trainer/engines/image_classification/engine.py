"""Image classification engine: trains a network within the time budget, next to a simple floor, and exports
ONNX of whichever does best on the validation split.

The search:

1. **Candidates.** With pretrained weights for the preference's timm models in ``EXEML_PRETRAINED_DIR``
   (:data:`PORTFOLIOS`: ``performance_first`` one small MobileNetV3, ``balance`` up to two — ResNet-18,
   MobileNetV3-Large at 224 px —, ``accuracy_first`` up to three larger ones), those are fine-tuned. Without
   them — the CPU most users start on — a ``scratch<W>`` network (:mod:`.models`) is trained from random
   weights on whole images (resized, no centre crop) at their own size (their median shorter side, 32–96
   px, or 64 px for larger images where time is short; 160 on a GPU; smaller images are not enlarged): one
   training step
   of each width of :data:`SCRATCH_WIDTHS` is timed, and the widest that gets :data:`SCRATCH_MIN_EPOCHS`
   epochs in the time left (a width above :data:`SCRATCH_BASE_WIDTH` or an input above 64 px: twice
   :data:`SCRATCH_MEMBER_EPOCHS`) is trained until the clock ends it (a random-weight ResNet does not learn from a
   few hundred images in minutes; this network does). Where the time measured holds several times
   :data:`SCRATCH_MEMBER_EPOCHS` epochs, two networks of that size are trained from other random starts: one
   without the validation images in a third of the time (measured), one on all images, validation
   included, in two thirds (delivered; see :data:`REFIT_SHARE`). On a CPU the step's arithmetic is measured
   too: plain,
   channels-last, or channels-last with bfloat16 autocast where that is clearly faster (twice the epochs on
   CPUs with AMX). ``params.extra["image_candidates"]``
   (list of ``{"model", "image_size"}``) or ``EXEML_IMAGE_CANDIDATES`` (``"resnet18@224,scratch16@64"``)
   replaces the choice (tests, operators); all of those candidates are tried.
2. **Inference-time rule**: when ``max_inference_ms`` is set, each candidate (random weights: the same
   architecture runs equally fast) is exported to ONNX and timed through the package predictor on one of the
   version's own images — decoding and pre-processing included — on CPU (on GPU when ``inference_hardware``
   is GPU and onnxruntime has CUDA; otherwise the CPU time, an upper bound, is used and recorded). Candidates
   slower than the limit are never trained. When none fits, the job fails with :class:`EngineError` naming
   the fastest candidate and its time: a model that breaks the user's limit is never delivered.
3. **The floor**: a logistic regression on hand features (colour layout, oriented gradients; see
   :mod:`.models`) of the training images and their mirrors, fitted in about a second: the simple baseline
   of the quality report, and a model the engine may deliver.
4. **Training** of each chosen network in its share of the remaining time: weights from
   ``EXEML_PRETRAINED_DIR`` when the folder holds the model's file (classifier head excluded), random
   otherwise; AdamW with a cosine learning rate that reaches zero when the epochs or the time granted run out,
   whichever comes first, label smoothing, augmentation (see :mod:`.data`; vertical flips only for images
   without an up, see :mod:`.symmetry` — tested on the floor's crops). Pretrained networks stop early on
   validation accuracy or loss and keep their best epoch; scratch networks train to the end and keep their
   last (see :meth:`_fit`). Stop requests and the budget are checked after every batch; besides
   ``packaging_margin_seconds`` the loop keeps free three times the last validation pass plus 2 s.
5. **Delivery**: the best network (or the average of its members), averaged with its mirror image (and
   its upside-down copies when trained with them) — or, where another option beats that on the validation
   images beyond chance (a paired test, see :meth:`_choose`), the best of those: the network alone, the
   floor, an average of their probabilities — is exported to ONNX (opset 17, dynamic
   batch), checked against torch on validation images, packaged with ``model.pt`` (the network's state
   dict, the first member's of an average, for incremental training) and evaluated **through the
   package's predictor** on the validation files, so the metrics are serving's. With networks trained on
   all images, the option is chosen on the measured network's scores and built from them (and the floor
   fitted on all images); the metrics and the quality report are the measured model's, packaged in the work
   folder and served the same way (the delivered one saw the validation images: what AutoGluon calls a
   refit on all data, scored by the model it refits).
   ``EngineResult.quality`` compares that accuracy with the majority class and the floor on the same split.

Incremental training: a previous package of this engine (``incremental_package_dir``) is continued with its
network and resolution; all its weights load when the label list is the same, all but the classifier
head otherwise. Multi-label images are trained and evaluated on their first label (see :mod:`.data`).
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from shared.packages import PredictionInputError, read_manifest, write_manifest
from shared.packages.image import ImageClassificationPredictor, decode_image, normalize, resize_and_crop
from trainer.engines.base import Baseline, EngineError, EngineResult, QualityReport, TrainContext
from trainer.engines.common.latency import measure_latency_ms
from trainer.engines.common.onnx_export import export_onnx
from trainer.engines.common.pretrained import find_pretrained_file, load_pretrained
from trainer.engines.common.scratch import SCRATCH_PREFIX, scratch_width
from trainer.engines.common.torch_setup import setup_torch, state_dict_copy
from trainer.engines.image_classification.data import ImageSet, augmented_loader, load_image_sets
from trainer.engines.image_classification.models import (
    Ensemble,
    FlipAverage,
    fit_feature_classifier,
    probabilities,
)
from trainer.engines.image_classification.package import (
    CROP_PCT,
    Candidate,
    TrainedModel,
    create_model,
    manifest_core,
    preprocessing_spec,
    write_package,
)
from trainer.engines.image_classification.symmetry import MAX_IMAGES, Orientation, vertical_orientation
from trainer.engines.settings import engine_settings
from trainer.quality import better_beyond_chance, selection_cost, worth_choosing

__all__ = ["PORTFOLIOS", "Candidate", "ImageClassificationEngine"]

_SMALL = (Candidate("mobilenetv3_small_050", 128), Candidate("lcnet_050", 96))
PORTFOLIOS: dict[str, tuple[Candidate, ...]] = {
    "performance_first": (Candidate("mobilenetv3_small_100", 160), *_SMALL),
    "balance": (
        Candidate("resnet18", 224),
        Candidate("mobilenetv3_large_100", 224),
        Candidate("mobilenetv3_small_100", 160),
        *_SMALL,
    ),
    "accuracy_first": (
        Candidate("convnext_tiny", 224),
        Candidate("efficientnet_b2", 256),
        Candidate("resnet50", 224),
        Candidate("resnet18", 224),
        Candidate("mobilenetv3_small_100", 160),
        *_SMALL,
    ),
}
# Operators (and end-to-end tests with a separate worker process) may replace the portfolio:
# EXEML_IMAGE_CANDIDATES="resnet18@224,mobilenetv3_small_100@160" - every listed candidate is tried.
CANDIDATES_ENV = "EXEML_IMAGE_CANDIDATES"
SEARCH_WIDTH = {"performance_first": 1, "balance": 2, "accuracy_first": 3}  # candidates trained
MAX_EPOCHS = {"performance_first": 15, "balance": 40, "accuracy_first": 80}
PATIENCE = {"performance_first": 4, "balance": 6, "accuracy_first": 8}
# Without pretrained weights for the portfolio (the CPU most users start on), a network is trained from
# random weights: ``scratch<W>`` at the images' own size, the widest that gets SCRATCH_MIN_EPOCHS epochs in
# the budget (one training step of each is timed first), then the epochs the clock allows up to the cap.
SCRATCH_WIDTHS = {"performance_first": (16, 8), "balance": (24, 16, 8), "accuracy_first": (32, 24, 16, 8)}
SCRATCH_MAX_EPOCHS = {"performance_first": 400, "balance": 1000, "accuracy_first": 2000}
SCRATCH_MIN_EPOCHS = 80
# A network wider than SCRATCH_BASE_WIDTH, or at a larger input than SCRATCH_SIZE[0], only when it still gets
# twice SCRATCH_MEMBER_EPOCHS epochs (room for a network on all images beside the measured one, see below):
# on a few hundred images from scratch, epochs and images pay before width and resolution.
# Measured on the bench's shapes: at equal epochs (60) widths 16 and 24 scored the same, and a step of 24 costs
# 2.4 times one of 16 on a CPU (96 px: 2.1 times 64 px); in 6 minutes width 24 got ~430 epochs and 0.74-0.81, a
# width-16 CNN at 64 px ~1,000 and 0.95; on 160 px images scratch16@96 got 123 epochs and 0.65, the CNN at
# 64 px 225 and 0.89
SCRATCH_BASE_WIDTH = 16
# Time for several times SCRATCH_MEMBER_EPOCHS epochs (long budgets on few images) trains two networks of the
# chosen size from other random starts: the first without the validation images, measured (its scores choose
# the option and face the quality gate), the second on all images, delivered (the held-out fifth is a quarter
# more images: on 240 images of shapes in 6 minutes, 0.88 on the test images trained on 192, 0.95 on 240).
# SCRATCH_MAX_MEMBERS and the inference limit still bound the count (1: no second network). Measured there
# too: one network of ~430 epochs beats three of ~160, so a network gets hundreds of epochs first
SCRATCH_MEMBER_EPOCHS = 600
SCRATCH_MAX_MEMBERS = {"performance_first": 2, "balance": 3, "accuracy_first": 5}
# Where several would fit, one network is measured and ONE is trained on all images in twice its time: on the
# shapes in 6 minutes, two averaged networks of ~500 epochs on all 240 images scored 0.90, one of ~850 0.95
REFIT_SHARE = 2.0
# Where one network is trained (short budgets), it learns without the validation images for JOIN_AT of its
# time, is measured there (its scores choose the option and face the gate), and then goes on with all images
# for the rest of its annealed schedule, delivered: the held-out fifth joins where it costs no second network
JOIN_AT = 0.7
SCRATCH_SIZE = (64, 96)  # input side: the median shorter image side within these bounds (GPU: up to 160)
# Smaller images are not enlarged: they train at their own side, down to SCRATCH_MIN_SIZE (four 2x2 poolings
# leave 2x2). Enlarging adds no detail and costs steps: on shapes-40 (36-44 px) at 60 s, scratch16 at 40 px
# ran ~320 epochs and scored 0.86 / 0.855 / 0.875 / 0.8675 / 0.9225 / 0.87 (seeds 1-6, 400 test images each),
# at 64 px ~200 epochs and 0.79 / 0.8425 / 0.7775 / 0.825 / 0.83 / 0.8125; at 48 px 0.845 / 0.8425 / 0.82
SCRATCH_MIN_SIZE = 32
SCRATCH_LEARNING_RATE = 1e-3
SCRATCH_WEIGHT_DECAY = 1e-4
LABEL_SMOOTHING = 0.1
FLOOR = "hand features + logistic regression"
MIRRORED = "averaged with its mirror"
FLIPPED = "averaged with its flips"  # mirrored and upside down: images without an up
# what the delivered model may be chosen among on validation: the network, mirrored, flipped, the floor, each
# of the first three with the floor, and a second candidate (or the kept epoch of a pretrained one)
OPTIONS = 8
MIN_ORIENTATION_IMAGES = 12  # fewer training images: no test, no vertical flips
TRIVIAL = "majority class (its share of all labeled images)"
FLOOR_MAX_IMAGES = 4000  # training images the floor's regression sees (a random subset beyond)


@dataclass
class _Floor:
    model: nn.Module
    spec: dict[str, Any]
    details: dict[str, Any]


def _batches(crops: list[Any], spec: dict[str, Any], size: int = 64) -> list[torch.Tensor]:
    """Normalised input batches of centre-cropped PIL images (the predictor's own normalisation)."""
    return [
        torch.from_numpy(np.stack([normalize(np.asarray(c), spec) for c in crops[i : i + size]]))
        for i in range(0, len(crops), size)
    ]


def scratch_epochs_needed(candidate: Candidate) -> int:
    """The epochs a ``scratch<W>`` network must get in the budget to be chosen: SCRATCH_MIN_EPOCHS up to
    SCRATCH_BASE_WIDTH channels at the smallest input side, twice SCRATCH_MEMBER_EPOCHS for a wider network
    or a larger input (time buys epochs first, then a network trained on all images beside the measured
    one, then width and resolution: on 240 images of shapes in 6 minutes, scratch24 0.88 and scratch16 0.885
    on the 192 of the split, scratch16 0.95 on all 240)."""
    width = scratch_width(candidate.model) or 0
    base = width <= SCRATCH_BASE_WIDTH and candidate.image_size <= SCRATCH_SIZE[0]
    return SCRATCH_MIN_EPOCHS if base else 2 * SCRATCH_MEMBER_EPOCHS


def majority_share(targets: list[int]) -> float:
    """The trivial baseline: the commonest class's share of all labeled images (training and validation).

    That is what answering the commonest class scores on a validation split drawn at random. Not that
    answer's score on this split: when every class has about as many images, the class that happens to be
    commonest in training is rarer than average in validation, and a model of nothing then beats that
    baseline by luck far more often than the gate's 5 % (1 time in 7 on 9 shuffled-label images). Nor the
    validation split's own commonest class, which no model can know and which makes small splits
    impossible to pass.
    """
    return Counter(targets).most_common(1)[0][1] / max(1, len(targets))


@dataclass(frozen=True)
class _Arithmetic:
    """How a scratch network's training steps run: tensors in channels-last layout, and the forward pass in
    bfloat16 autocast (batch norm and the weights stay float32). Chosen per machine by timing a step."""

    channels_last: bool = False
    bf16: bool = False

    @property
    def name(self) -> str:
        return ("channels-last " if self.channels_last else "") + ("bfloat16" if self.bf16 else "float32")

    def layout(self, tensor: Any) -> Any:
        """A module or an NCHW batch in this layout."""
        return tensor.to(memory_format=torch.channels_last) if self.channels_last else tensor

    def autocast(self, device: torch.device) -> Any:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16)


PLAIN = _Arithmetic()
# CPU choices, timed on the cheapest planned network (5 steps each); bfloat16 when its steps are faster.
# It rounds more, but showed no cost in controlled runs of 60 epochs (3 seeds), and it buys epochs:
# at 60 s, forced either way, bfloat16 scored 0.7925 / 0.7825 / 0.86 and float32 0.7375 / 0.7275 / 0.8225
# (shapes-40 s1, s2, shapes-160 s1; 400 test images each). A gain threshold of 1.25 sat inside the noise
# of the timed ratio (1.12-1.77 in those runs) and picked either at random.
ARITHMETIC = (PLAIN, _Arithmetic(channels_last=True), _Arithmetic(channels_last=True, bf16=True))
BF16_MIN_GAIN = 1.05  # bfloat16 steps must be this many times faster than the best float32 ones
ARITHMETIC_STEPS = 5


# A step is timed at least `repeats` times, and again while the timed steps take under STEP_TIMING_SECONDS (up
# to STEP_TIMING_MAX steps): the plan flips on the estimate (one network, or a second on all images), and the
# fastest of 2 steps of a 64 px network swung by 40 % between two runs of the same job (949 and 1,351 epochs
# estimated on shapes-40; the network then ran 1,000 epochs in 284 s, ~1,240 in the budget)
STEP_TIMING_SECONDS = 0.2
STEP_TIMING_MAX = 16


def step_seconds(
    candidate: Candidate, arithmetic: _Arithmetic, batch: int, device: torch.device, repeats: int = 3
) -> float:
    """Seconds of one training step of ``candidate`` on a random batch: the fastest of the timed steps after
    the first, which warms up (``repeats`` steps at least; more while they are cheap, see STEP_TIMING_SECONDS)."""
    model = arithmetic.layout(create_model(candidate, 2).to(device).train())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = arithmetic.layout(torch.randn(batch, 3, candidate.image_size, candidate.image_size, device=device))
    y = torch.zeros(batch, dtype=torch.long, device=device)
    times: list[float] = []
    while len(times) < repeats or (len(times) < STEP_TIMING_MAX and sum(times[1:]) < STEP_TIMING_SECONDS):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        with arithmetic.autocast(device):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return min(times[1:])


class _Annealing:
    """Cosine learning rate from ``peak`` to zero over ``epochs`` epochs or until ``until`` (monotonic
    seconds), whichever is nearer: set before every batch from the epoch's progress and the clock, so a run
    the clock ends before its epochs still ends annealed (a scratch network delivers its last weights)."""

    def __init__(self, optimizer: Any, peak: float, epochs: int, start: float, until: float) -> None:
        self.optimizer, self.peak, self.epochs, self.start, self.until = optimizer, peak, epochs, start, until
        self.epoch = 0

    def set(self, within_epoch: float) -> None:
        done = (self.epoch + within_epoch) / max(1, self.epochs)
        if math.isfinite(self.until):
            done = max(done, (time.monotonic() - self.start) / max(1e-9, self.until - self.start))
        for group in self.optimizer.param_groups:
            group["lr"] = self.peak * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


@dataclass
class _Run:
    candidate: Candidate
    model: nn.Module
    spec: dict[str, Any]
    init: dict[str, Any]
    best_state: dict[str, torch.Tensor] | None = None
    best_accuracy: float = -1.0
    best_loss: float = math.inf
    lowest_loss: float = math.inf  # of any epoch (early stopping)
    best_epoch: int = 0
    epochs: int = 0
    seconds: float = 0.0
    stopped: bool = False  # ended by a stop request or the time budget, not by convergence
    all_images: bool = False  # trained on the validation images too: its validation scores mean nothing
    measured: _Run | None = None  # this network before the validation images joined its training (JOIN_AT)

    def details(self) -> dict[str, Any]:
        return {"init": self.init, "best_epoch": self.best_epoch, "epochs": self.epochs}


def _joined(train: ImageSet, evaluation: ImageSet) -> ImageSet:
    """Every labeled image: the training images and the validation ones."""
    return ImageSet(
        train.images + evaluation.images, train.targets + evaluation.targets, train.paths + evaluation.paths
    )


def _average(runs: list[_Run], labels: list[str]) -> nn.Module:
    """The trained network of one run, or the average of several runs' networks."""
    networks = []
    for run in runs:
        assert run.best_state is not None
        networks.append(create_model(run.candidate, len(labels)).eval())
        networks[-1].load_state_dict(run.best_state)
    return networks[0] if len(networks) == 1 else Ensemble(networks)


def _same_option(chosen: str, network: str, options: dict[str, nn.Module]) -> str:
    """The option of ``options`` built as ``chosen`` was (mirrored, with the floor...), where ``network``
    is the name ``chosen`` starts with; the floor alone is the floor; the network alone when the option is not
    offered there."""
    if chosen in options and not chosen.startswith(network):
        return chosen  # the floor
    suffix = chosen[len(network) :] if chosen.startswith(network) else ""
    own = next(iter(options))
    return own + suffix if own + suffix in options else own


class ImageClassificationEngine:
    name: ClassVar[str] = "image_classification"
    task_types: ClassVar[tuple[str, ...]] = ("image_classification",)

    # ---- the search --------------------------------------------------------------------------------
    def train(self, ctx: TrainContext) -> EngineResult:
        started = time.monotonic()
        self._budget = (started, max(1.0, ctx.remaining_seconds() - ctx.packaging_margin_seconds))
        device = setup_torch(ctx.params.seed)
        self._scratch_epochs: int | None = None
        self._members = 1
        self._planned_epochs = 0  # a scratch network's estimated epochs (its augmentation's strength)
        self._arithmetic: _Arithmetic = PLAIN
        self._arithmetic_ms: dict[str, float] = {}
        self._orientation: Orientation | None = None
        self._why = "candidates with pretrained weights or set by the operator"
        labels = list(ctx.data.labels)
        if len(labels) < 2:
            raise EngineError(f"image classification needs at least 2 labels, the version has {len(labels)}")
        ctx.report(1, "planning")
        plan, tried = self._plan(ctx, labels)
        max_shorter = max(round(c.image_size / CROP_PCT) for c in plan)
        ctx.report(3, "loading data")
        train_set, eval_set = load_image_sets(ctx, labels, max_shorter)
        # choose on validation only where the gate's 5 %, shared by the options compared, stays passable
        # (quality.worth_choosing); else the default model is delivered and its score is the only one looked at
        trivial = majority_share(train_set.targets + eval_set.targets)
        self._select = worth_choosing(len(eval_set), trivial, OPTIONS)
        if plan[0].model.startswith(SCRATCH_PREFIX) and not plan[0].warm_start:
            plan = [self._scratch_choice(ctx, plan, train_set, device, tried)]
        ctx.report(4, "preparing data")
        floor = self._fit_floor(ctx, labels, plan[0], train_set)
        # several scratch networks planned: the first learns without the validation images and is measured,
        # the others learn from all images and are delivered (see _deliver)
        refit = self._members >= 2 and len(plan) == 1 and plan[0].model.startswith(SCRATCH_PREFIX)
        join = (
            not refit
            and len(plan) == 1
            and plan[0].model.startswith(SCRATCH_PREFIX)
            and not plan[0].warm_start
            and float(ctx.params.extra.get("join_at", JOIN_AT)) < 1.0
        )
        all_images = _joined(train_set, eval_set) if refit or join else train_set
        runs: list[_Run] = []
        # (candidate, member, images, share of the time): with a refit, one network measured in a third of
        # the time and one on all images in two thirds; else the members in equal shares
        jobs = (
            [(plan[0], 0, train_set, 1.0), (plan[0], 1, all_images, REFIT_SHARE)]
            if refit
            else [(c, m, train_set, 1.0) for c in plan for m in range(self._members if c is plan[0] else 1)]
        )
        for i, (candidate, member, images, weight) in enumerate(jobs):
            if runs and ctx.should_stop():
                runs[-1].stopped = True
                break
            share = (ctx.remaining_seconds() - ctx.packaging_margin_seconds) * (
                weight / sum(j[3] for j in jobs[i:])
            )
            run = self._fit(
                ctx,
                candidate,
                labels,
                images,
                eval_set,
                device,
                time.monotonic() + share,
                member,
                all_images=refit and member > 0,
                join=all_images if join else None,
            )
            if run.measured is not None:  # measured before the validation images joined, then delivered
                runs.append(run.measured)
                self._record(tried, run.measured)
            runs.append(run)
            self._record(tried, run)
        held = [r for r in runs if not r.all_images]
        best = max(held, key=lambda r: (r.best_accuracy, -r.best_loss)) if self._select else held[0]
        members = [r for r in held if r.candidate == best.candidate]
        ctx.report(94, "evaluating", {"accuracy": best.best_accuracy})
        refits = [r for r in runs if r.all_images]
        floor_all = self._fit_floor(ctx, labels, plan[0], all_images, orientation=False) if refits else None
        how = (
            f"the same network before the {len(eval_set)} validation images joined its training (at "
            f"{float(ctx.params.extra.get('join_at', JOIN_AT)):.0%} of its time)"
            if join
            else f"{refits[0].candidate.name if refits else ''} trained without the {len(eval_set)} validation "
            "images (the same recipe with less data and half the time)"
        )
        trained, options, measured = self._deliver(members, floor, labels, eval_set, refits, floor_all)
        compared = self._compared(runs, options)
        ctx.report(95, "packaging", {"accuracy": options[(measured or trained).name][0]})
        metrics = write_package(ctx, labels, trained, eval_set, tried, self.name, measured)
        ctx.report(100, "completed", {"accuracy": metrics["accuracy"]})
        ctx.log(f"image classification: {trained.name} in {time.monotonic() - started:.1f}s")
        return EngineResult(
            engine=self.name,
            candidate=trained.name,
            metrics=metrics,
            candidates=tried,
            stopped_early=any(r.stopped for r in runs),
            quality=QualityReport(
                metric="accuracy",
                higher_is_better=True,
                model=float(metrics["accuracy"]),
                trivial=Baseline(TRIVIAL, trivial),
                simple=Baseline(FLOOR, options[FLOOR][0]) if FLOOR in options else None,
                compared=compared,
            ),
            plan={
                "network": self._why,
                "arithmetic": self._arithmetic.name,
                "delivered": trained.name,
                "measured": (measured or trained).name,
                "all_images": (
                    f"the delivered network trained on all {len(all_images)} images; the scores are those of "
                    f"{how}: a conservative estimate"
                    if measured is not None
                    else None
                ),
                "vertical_flips": self._orientation.details() if self._orientation else None,
                "validation": {k: round(v[0], 4) for k, v in options.items()},
                "selection": (
                    f"the network averaged over its flipped views, unless other options of the {compared} "
                    "validation scores compared beat it beyond chance (McNemar's exact test, 5 %): the best "
                    "of those (accuracy, then log loss)"
                    if self._select
                    else f"the default ({trained.name}, last epoch): as the best of {OPTIONS} options on "
                    f"{len(eval_set)} validation images a model would need "
                    f"{selection_cost(len(eval_set), trivial, OPTIONS):.0%} of them right to pass the gate"
                ),
                "selection_compared": compared,
            },
        )

    # ---- the floor, the selection ------------------------------------------------------------------
    def _fit_floor(
        self,
        ctx: TrainContext,
        labels: list[str],
        candidate: Candidate,
        train_set: ImageSet,
        orientation: bool = True,
    ) -> _Floor | None:
        """The hand-feature regression at the first candidate's input (training images and their mirrors),
        after the test of whether the images have an up (:mod:`.symmetry`, unless ``orientation`` is off),
        on the same crops."""
        if candidate.image_size % 4:
            return None
        spec = preprocessing_spec(create_model(candidate, len(labels)), candidate)
        t0 = time.monotonic()
        chosen = list(range(len(train_set)))
        if len(chosen) > FLOOR_MAX_IMAGES:
            chosen = sorted(random.Random(ctx.params.seed).sample(chosen, FLOOR_MAX_IMAGES))
        crops = [resize_and_crop(train_set.images[i], spec) for i in chosen]
        targets = [train_set.targets[i] for i in chosen]
        if (
            orientation and len(crops) >= MIN_ORIENTATION_IMAGES
        ):  # on a sample: the test needs hundreds, not thousands
            sample = sorted(
                random.Random(ctx.params.seed).sample(range(len(crops)), min(len(crops), MAX_IMAGES))
            )
            self._orientation = vertical_orientation(
                _batches([crops[i] for i in sample], spec),
                [targets[i] for i in sample],
                candidate.image_size,
                ctx.params.seed,
            )
            ctx.log(f"vertical flips: {self._orientation.describe()}")
        mirrored = [c.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for c in crops]
        try:
            model, details = fit_feature_classifier(
                candidate.image_size,
                len(labels),
                _batches(crops + mirrored, spec),
                np.array(targets * 2),
                ctx.params.seed,
            )
        except ValueError as exc:  # a single class among the training images
            ctx.log(f"no hand-feature regression: {exc}")
            return None
        details["seconds"] = round(time.monotonic() - t0, 2)
        ctx.log(f"{FLOOR}: fitted in {details['seconds']} s ({details})")
        return _Floor(model, spec, details)

    @property
    def _vflip(self) -> bool:
        """Vertical flips in training and in the flip average: only for images without an up."""
        orientation = getattr(self, "_orientation", None)
        return orientation is not None and not orientation.upright

    def _options(
        self, best: _Run, network: nn.Module, floor: nn.Module | None, members: int = 1
    ) -> dict[str, nn.Module]:
        """What may be delivered: the network (the average of ``members`` trained ones), averaged with its
        mirror, the floor, their ensembles."""
        name = best.candidate.name if members == 1 else f"{members} x {best.candidate.name}"
        options: dict[str, nn.Module] = {name: network}
        if self._mirror_fits(best, members):
            options[f"{name} {MIRRORED}"] = FlipAverage(network)
        if self._vflip and self._mirror_fits(best, members, views=4):
            options[f"{name} {FLIPPED}"] = FlipAverage(network, vertical=True)
        if floor is not None:
            options[FLOOR] = floor
            for name, module in list(options.items()):
                if name != FLOOR:
                    options[f"{name} + {FLOOR}"] = Ensemble([module, floor])
        return options

    def _deliver(
        self,
        members: list[_Run],
        floor: _Floor | None,
        labels: list[str],
        eval_set: ImageSet,
        refits: list[_Run] | None = None,
        floor_all: _Floor | None = None,
    ) -> tuple[TrainedModel, dict[str, tuple[float, float]], TrainedModel | None]:
        """The network (the average of the ``members`` trained from other random starts), averaged with its
        mirror or not, the floor or an ensemble: whichever scores best on the validation split (accuracy,
        then log loss). Returns it with every option's (accuracy, log loss).

        With ``refits`` (networks trained on all images, validation included) and ``floor_all``, the option
        chosen on the held-out members' scores is built from those instead and delivered; the held-out model
        is returned third, to be measured (AutoGluon's refit of the best on all data: on 240 images of
        shapes, 6 minutes, the same network scored 0.88 on 400 test images trained on the 192 the split left
        it, 0.95 on all 240)."""
        best, state = members[0], members[0].best_state  # model.pt: the first member's (incremental)
        assert state is not None  # _fit evaluates at least one epoch
        network = _average(members, labels)
        same_input = floor is not None and floor.spec == best.spec
        options = self._options(
            best, network, floor.model if floor is not None and same_input else None, len(members)
        )
        batches = _batches([resize_and_crop(image, best.spec) for image in eval_set.images], best.spec)
        truth = torch.tensor(eval_set.targets)
        scores, right = {}, {}
        for name, module in options.items():
            probs = probabilities(module, batches)
            right[name] = probs.argmax(1) == truth
            log_loss = float(F.nll_loss(torch.log(probs.clamp_min(1e-7)), truth))
            scores[name] = (float(right[name].float().mean()), log_loss)
        if floor is not None and not same_input:  # the floor scored at its own input
            floor_batches = _batches([resize_and_crop(i, floor.spec) for i in eval_set.images], floor.spec)
            probs = probabilities(floor.model, floor_batches)
            scores[FLOOR] = (float((probs.argmax(1) == truth).float().mean()), math.nan)
        chosen = self._choose(options, scores, right) if self._select else self._default(options)
        details = {**best.details(), "delivered": chosen, "members": len(members)}
        if floor is not None:
            details["hand_features"] = floor.details
        held_out = TrainedModel(best.candidate, options[chosen], best.spec, state, details, chosen)
        if not refits:
            return held_out, scores, None
        first = refits[0]
        assert first.best_state is not None
        floor_model = floor_all.model if floor_all is not None and floor_all.spec == first.spec else None
        full = self._options(first, _average(refits, labels), floor_model, len(refits))
        delivered = _same_option(chosen, next(iter(options)), full)
        details = {**first.details(), "delivered": delivered, "members": len(refits)}
        if floor_all is not None and floor_model is not None:
            details["hand_features"] = floor_all.details
        model = TrainedModel(
            first.candidate, full[delivered], first.spec, first.best_state, details, delivered
        )
        return model, scores, held_out

    @staticmethod
    def _default(options: dict[str, nn.Module], floor: bool = True) -> str:
        """What is delivered without a choice on validation: the network averaged over the most flipped
        views offered, with the floor when there is one and ``floor`` (two different learners: the safer bet
        on so few images that no choice is made)."""
        with_floor = (f"{FLIPPED} + {FLOOR}", f"{MIRRORED} + {FLOOR}", f"+ {FLOOR}") if floor else ()
        for suffix in (*with_floor, FLIPPED, MIRRORED):
            found = [name for name in options if name.endswith(f" {suffix}")]
            if found:
                return found[0]
        return next(iter(options))

    def _choose(
        self,
        options: dict[str, nn.Module],
        scores: dict[str, tuple[float, float]],
        right: dict[str, torch.Tensor],
    ) -> str:
        """The network averaged over the most flipped views offered (the anchor), unless other options beat
        it on the validation images beyond chance (:func:`~trainer.quality.better_beyond_chance` on the
        images one gets right and the other wrong): then the best of those (accuracy, then log loss).

        Not simply the best score: on 48 validation images the options differ by one to three images, noise
        that picked an ensemble with the floor in half the runs; on the test images the anchor was the best
        option in all 9 runs measured (shapes-40 s1-s6, shapes-160 s1-s2 at 60 s, shapes-40-s1 at 360 s:
        0.78-0.93), the floor's ensembles 0.01-0.08 below it."""
        anchor = self._default(options, floor=False)
        better = [
            name
            for name in options
            if better_beyond_chance(
                int((right[name] & ~right[anchor]).sum()), int((right[anchor] & ~right[name]).sum())
            )
        ]
        return max(better, key=lambda n: (scores[n][0], -scores[n][1])) if better else anchor

    def _compared(self, runs: list[_Run], options: dict[str, tuple[float, float]]) -> int:
        """How many validation scores the delivered model was chosen as the best of (the quality gate shares
        its 5 % among them): each candidate's kept epoch among those evaluated (a scratch network keeps its
        last: one), then the delivered options."""
        if not self._select:
            return 1
        first: dict[str, _Run] = {}
        for run in runs:
            first.setdefault(run.candidate.name, run)
        epochs = sum(
            1 if r.candidate.model.startswith(SCRATCH_PREFIX) else max(1, r.epochs) for r in first.values()
        )
        return epochs + len(options) - 1

    def _mirror_fits(self, best: _Run, members: int = 1, views: int = 2) -> bool:
        """Averaging over flipped views runs the network(s) once a view: offered when no inference limit is
        set, or when ``views`` times the candidate's measured time (times its members) fits it."""
        limit = getattr(self, "_limit", None)
        if limit is None:
            return True
        latency = self._latencies.get(best.candidate.name)
        return latency is not None and views * members * latency <= limit

    @staticmethod
    def _custom_candidates(ctx: TrainContext) -> list[Candidate]:
        """Candidates that replace the portfolio: ``extra["image_candidates"]`` or ``EXEML_IMAGE_CANDIDATES``."""
        custom = ctx.params.extra.get("image_candidates")
        if custom:
            return [Candidate(str(c["model"]), int(c["image_size"])) for c in custom]
        names = [n.strip() for n in (engine_settings().image_candidates or "").split(",") if n.strip()]
        try:
            return [Candidate(n.split("@")[0], int(n.split("@")[1])) for n in names]
        except (IndexError, ValueError) as exc:
            raise EngineError(f"{CANDIDATES_ENV} must list timm_model@size items, e.g. resnet18@224") from exc

    def _portfolio(self, ctx: TrainContext) -> list[Candidate]:
        """Custom candidates; else the preference's timm models whose weights the operator's folder holds;
        else ``scratch<W>`` networks at the images' size (widest first)."""
        custom = self._custom_candidates(ctx)
        if custom:
            return custom
        weighted = [c for c in PORTFOLIOS[ctx.params.preference] if find_pretrained_file(c.model)]
        if weighted:
            return weighted
        sides = []
        for sample in (ctx.data.train + ctx.data.eval)[:64]:
            if sample.path is None:
                continue
            try:
                with Image.open(sample.path) as image:  # the header only
                    sides.append(min(image.size))
            except (OSError, TypeError, ValueError):
                continue
        low, high = SCRATCH_SIZE[0], (160 if torch.cuda.is_available() else SCRATCH_SIZE[1])
        native = int(min(high, max(SCRATCH_MIN_SIZE, 8 * round(statistics.median(sides or [low]) / 8))))
        # the images' own size, and the smallest when larger; smaller images are not enlarged
        sizes = sorted({native, min(low, native)}, reverse=True)
        return [
            Candidate(f"{SCRATCH_PREFIX}{w}", size)
            for w in SCRATCH_WIDTHS[ctx.params.preference]
            for size in sizes
        ]

    def _scratch_choice(
        self,
        ctx: TrainContext,
        planned: list[Candidate],
        train_set: ImageSet,
        device: torch.device,
        tried: list,
    ) -> Candidate:
        """The first planned network (widest, then largest input) that gets SCRATCH_MIN_EPOCHS epochs in the
        time left, else the fastest: one training step of each is timed on a batch of random images."""
        batch = self._batch_size(ctx, train_set)
        steps = max(1, -(-len(train_set) // batch))
        seconds = max(1.0, ctx.remaining_seconds() - ctx.packaging_margin_seconds - 3.0)
        step = {}
        if device.type == "cpu":  # the arithmetic: timed on the cheapest network, then used for all
            timed = {a: step_seconds(planned[-1], a, batch, device, ARITHMETIC_STEPS) for a in ARITHMETIC}
            fp32 = min((a for a in timed if not a.bf16), key=lambda a: timed[a])
            bf16 = min((a for a in timed if a.bf16), key=lambda a: timed[a], default=None)
            self._arithmetic = bf16 if bf16 and timed[fp32] >= BF16_MIN_GAIN * timed[bf16] else fp32
            self._arithmetic_ms = {a.name: round(1000 * t, 2) for a, t in timed.items()}
            step[planned[-1]] = timed[self._arithmetic]
        measured = {}
        for candidate in planned:
            if candidate not in step:
                step[candidate] = step_seconds(candidate, self._arithmetic, batch, device)
            epoch_seconds = step[candidate] * steps * 1.3  # augmentation and the validation pass on top
            measured[candidate] = int(seconds / max(epoch_seconds, 1e-9))
            entry = next(t for t in tried if t["name"] == candidate.name)
            entry.update(step_ms=round(1000 * step[candidate], 2), epochs_in_budget=measured[candidate])
        fits = [c for c in planned if measured[c] >= scratch_epochs_needed(c)]
        chosen = fits[0] if fits else max(planned, key=lambda c: measured[c])
        cap = int(ctx.params.extra.get("max_epochs", SCRATCH_MAX_EPOCHS[ctx.params.preference]))
        # the estimate only picks the network: it trains until the clock (or the cap) ends it, its learning
        # rate annealed over the time granted (a three-step timing is too noisy to fix the epoch count by)
        self._scratch_epochs = max(1, cap)
        self._members = self._member_count(ctx, chosen, measured[chosen])
        self._planned_epochs = min(measured[chosen] // self._members, self._scratch_epochs)
        for entry in tried:
            if entry["name"] != chosen.name and entry["status"] == "planned":
                entry["status"] = "not_chosen"
        self._why = (
            f"{chosen.name}: {measured[chosen]} epochs of {len(train_set)} images fit in {seconds:.0f} s "
            + (
                f"(the widest, then largest input, with at least {SCRATCH_MIN_EPOCHS} epochs; wider than "
                f"{SCRATCH_BASE_WIDTH} or larger than {SCRATCH_SIZE[0]} px with at least {2 * SCRATCH_MEMBER_EPOCHS})"
                if fits
                else f"(none gets {SCRATCH_MIN_EPOCHS}: the one that trains most)"
            )
            + (
                f", capped at {self._scratch_epochs} epochs"
                if self._scratch_epochs < measured[chosen]
                else ""
            )
            + (
                "; time for more than one: one without the validation images in a third of the time, "
                "measured, and one on all images in two thirds, delivered"
                if self._members > 1
                else ""
            )
            + f"; {self._arithmetic.name} arithmetic"
            + (f" (one step of {planned[-1].name}, ms: {self._arithmetic_ms})" if self._arithmetic_ms else "")
        )
        ctx.log(f"plan: {self._why}")
        return chosen

    def _member_count(self, ctx: TrainContext, chosen: Candidate, epochs: int) -> int:
        """Networks to train from other random starts and average: as many as get SCRATCH_MEMBER_EPOCHS epochs
        each in the time measured, up to the preference's SCRATCH_MAX_MEMBERS and to what the inference
        limit allows (each member runs at prediction); ``extra["members"]`` sets it."""
        if "members" in ctx.params.extra:
            return max(1, int(ctx.params.extra["members"]))
        count = min(SCRATCH_MAX_MEMBERS[ctx.params.preference], epochs // SCRATCH_MEMBER_EPOCHS)
        latency = self._latencies.get(chosen.name)
        if self._limit is not None and latency:
            count = min(count, int(self._limit // latency))
        return max(1, count)

    @staticmethod
    def _batch_size(ctx: TrainContext, train_set: ImageSet) -> int:
        # small versions get small batches: enough optimizer steps per epoch for early stopping to judge
        return int(ctx.params.extra.get("batch_size") or min(32, max(8, len(train_set) // 8)))

    def _warm_candidate(self, ctx: TrainContext) -> Candidate | None:
        folder = ctx.params.incremental_package_dir
        if folder is None:
            return None
        manifest = read_manifest(Path(folder))
        model = manifest.get("model") or {}
        weights = Path(folder) / manifest["artifacts"].get("weights", "model.pt")
        if (
            manifest.get("task_type") != "image_classification"
            or "timm_name" not in model
            or not weights.is_file()
        ):
            raise EngineError(
                "the incremental training version is not an image classification model of this engine"
            )
        return Candidate(model["timm_name"], int(model["image_size"]), warm_start=weights)

    @staticmethod
    def _sample_payload(ctx: TrainContext) -> bytes | None:
        """One readable image of the version: latency is timed on the user's own image size."""
        for sample in ctx.data.train + ctx.data.eval:
            try:
                payload = Path(sample.path).read_bytes() if sample.path is not None else b""
                decode_image(payload)
                return payload
            except (OSError, PredictionInputError):
                continue
        return None

    def _plan(self, ctx: TrainContext, labels: list[str]) -> tuple[list[Candidate], list[dict[str, Any]]]:
        """The candidates to train (preferred first) and the record of every candidate considered."""
        limit = ctx.params.max_inference_ms
        self._limit, self._latencies = limit, {}
        portfolio = self._portfolio(ctx)
        scratch = portfolio[0].model.startswith(SCRATCH_PREFIX)
        custom = self._custom_candidates(ctx)
        width = len(portfolio) if custom or scratch else SEARCH_WIDTH[ctx.params.preference]
        warm = self._warm_candidate(ctx)
        payload = self._sample_payload(ctx) if limit is not None else None
        chosen: list[Candidate] = []
        tried: list[dict[str, Any]] = []
        for candidate in ([warm] if warm else []) + portfolio:
            if len(chosen) >= (1 if chosen and chosen[0].warm_start else width):
                break
            latency = None if payload is None else self.candidate_latency_ms(candidate, labels, payload, ctx)
            if latency is not None:
                self._latencies[candidate.name] = latency
            fits = latency is None or (limit is not None and latency <= limit)
            entry = {
                "name": candidate.name,
                "latency_ms": latency,
                "status": "planned" if fits else "too_slow",
            }
            if latency is not None:
                entry["measured_on"] = "GPU" if self._providers(ctx)[0].startswith("CUDA") else "CPU"
            tried.append(entry)
            if fits:
                chosen.append(candidate)
            elif candidate.warm_start:
                ctx.log(
                    f"incremental model {candidate.name} takes {latency:.1f} ms > {limit} ms: starting afresh"
                )
        if not chosen:
            fastest = min(tried, key=lambda t: t["latency_ms"])
            where: str = ctx.params.inference_hardware
            if fastest["measured_on"] != where:  # GPU asked, no CUDA runtime here: CPU time, an upper bound
                where += f" (measured on {fastest['measured_on']})"
            raise EngineError(
                f"no model meets the max inference duration of {limit} ms on {where}: "
                f"the fastest candidate, {fastest['name']}, takes {fastest['latency_ms']:.1f} ms"
            )
        return chosen, tried

    def candidate_latency_ms(
        self, candidate: Candidate, labels: list[str], payload: bytes, ctx: TrainContext
    ) -> float:
        """Inference time of one image through the package predictor (decode + pre-process + model)."""
        folder = ctx.work_dir / "latency" / candidate.name.replace("@", "_")
        folder.mkdir(parents=True, exist_ok=True)
        model = create_model(candidate, len(labels))
        export_onnx(
            model, folder / "model.onnx", torch.zeros(1, 3, candidate.image_size, candidate.image_size)
        )
        write_manifest(folder, manifest_core(labels, candidate, preprocessing_spec(model, candidate)))
        predictor = ImageClassificationPredictor(folder, read_manifest(folder))
        predictor.providers = self._providers(ctx)
        return measure_latency_ms(lambda: predictor.predict(payload))

    @staticmethod
    def _providers(ctx: TrainContext) -> list[str]:
        import onnxruntime as ort

        if (
            ctx.params.inference_hardware == "GPU"
            and "CUDAExecutionProvider" in ort.get_available_providers()
        ):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    @staticmethod
    def _record(tried: list[dict[str, Any]], run: _Run) -> None:
        entry = next(
            t for t in tried if t["name"] == run.candidate.name and t["status"] in ("planned", "trained")
        )
        if entry["status"] == "trained":  # another member of an ensemble of this network
            entry.setdefault("members", [{"score": entry["score"], "epochs": entry["epochs"]}])
            entry["members"].append(
                {"score": None, "epochs": run.epochs, "images": "all (validation included)"}
                if run.all_images
                else {"score": run.best_accuracy, "epochs": run.epochs}
            )
            entry["seconds"] = round(entry["seconds"] + run.seconds, 2)
            return
        entry.update(
            status="trained",
            score=run.best_accuracy,
            best_epoch=run.best_epoch,
            epochs=run.epochs,
            seconds=round(run.seconds, 2),
            init=run.init,
        )

    # ---- one candidate -----------------------------------------------------------------------------
    def _initialise(
        self, model: nn.Module, candidate: Candidate, labels: list[str], ctx: TrainContext
    ) -> dict:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        heads = cfg.get("classifier") or ()
        heads = tuple(f"{h}." for h in ((heads,) if isinstance(heads, str) else heads))
        if candidate.warm_start is not None:
            saved = torch.load(candidate.warm_start, map_location="cpu", weights_only=True)
            if list(saved.get("labels", [])) == labels:
                model.load_state_dict(saved["state_dict"])
                return {"source": "incremental", "head": "kept"}
            return {"source": "incremental", **load_pretrained(model, candidate.warm_start, heads)}
        path = find_pretrained_file(candidate.model)
        if path is None:
            return {"source": "random"}
        return {"source": "pretrained", **load_pretrained(model, path, heads)}

    def _fit(
        self,
        ctx,
        candidate,
        labels,
        train_set,
        eval_set,
        device,
        until,
        member: int = 0,
        all_images=False,
        join: ImageSet | None = None,
    ) -> _Run:
        """Trains ``candidate`` on ``train_set`` until ``until``; ``all_images``: the validation images are
        among them (no curves: its validation scores would mean nothing). ``join``: after JOIN_AT of the
        time, the run as it stands becomes ``measured`` and training goes on with these images."""
        if member:  # another random start and batch order for each member of an ensemble
            torch.manual_seed(ctx.params.seed + 1000 * member)
        model = create_model(candidate, len(labels))
        run = _Run(
            candidate,
            model,
            preprocessing_spec(model, candidate),
            self._initialise(model, candidate, labels, ctx),
            all_images=all_images,
        )
        ctx.log(
            f"training {candidate.name} ({run.init['source']} weights) for up to {until - time.monotonic():.0f}s"
        )
        # uint8 crops (a quarter of float32's memory), normalised batch by batch with the predictor's code
        eval_x = np.stack([np.asarray(resize_and_crop(image, run.spec)) for image in eval_set.images])
        eval_y = torch.tensor(eval_set.targets)
        pref = ctx.params.preference
        scratch = candidate.model.startswith(SCRATCH_PREFIX)
        max_epochs = int(ctx.params.extra.get("max_epochs", MAX_EPOCHS[pref]))
        patience = int(ctx.params.extra.get("patience", PATIENCE[pref]))
        default_lr = 5e-4 if run.init["source"] != "random" else 1e-3
        if scratch:  # the planned epochs, no early stopping: from random weights the validation accuracy
            # often stays flat for tens of epochs before it rises. The delivered weights are the last epoch's,
            # at the end of the cosine schedule: picking the epoch with the best validation accuracy would
            # make that accuracy a maximum over tens of noisy draws (on shuffled labels it reached 0.78 on 9
            # images where chance is 0.33), and the quality gate reads it
            max_epochs = getattr(self, "_scratch_epochs", None) or max_epochs
            patience = max(patience, max_epochs)
            default_lr = SCRATCH_LEARNING_RATE if run.init["source"] == "random" else 5e-4

        def loader_of(images: ImageSet) -> Any:  # batches of the same size and augmentation for any images
            return augmented_loader(
                images,
                run.spec,
                self._batch_size(ctx, train_set),
                ctx.params.seed + 1000 * member,
                self._planned_epochs if scratch else 0,
                vflip=self._vflip,
            )

        loader = loader_of(train_set)
        arithmetic = self._arithmetic if scratch else PLAIN
        arithmetic.layout(model.to(device))
        lr = float(ctx.params.extra.get("learning_rate", default_lr))
        decay = SCRATCH_WEIGHT_DECAY if scratch and run.init["source"] == "random" else 0.05
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
        schedule = _Annealing(optimizer, lr, max_epochs, time.monotonic(), math.inf)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
        started, epoch_seconds, stale, reserve = time.monotonic(), 0.0, 0, 0.0
        join_at = started + float(ctx.params.extra.get("join_at", JOIN_AT)) * (until - started)
        for epoch in range(1, max_epochs + 1):
            limit = min(until, ctx.deadline - ctx.packaging_margin_seconds - reserve)
            if join is not None and run.best_state is not None and time.monotonic() >= join_at:
                run.measured = dataclasses.replace(run, seconds=time.monotonic() - started)
                started = time.monotonic()  # this run's seconds: those after the join (the epochs: all)
                run.all_images, loader, join = True, loader_of(join), None
            if run.best_state is not None and (ctx.should_stop() or time.monotonic() + epoch_seconds > limit):
                run.stopped = True
                break
            t0 = time.monotonic()
            schedule.epoch, schedule.until = epoch - 1, limit
            train_loss, complete = self._epoch(
                model, loader, optimizer, loss_fn, device, ctx, limit, schedule, arithmetic
            )
            t_eval = time.monotonic()
            accuracy, val_loss = self._evaluate(model, eval_x, eval_y, run.spec, loss_fn, device)
            # time kept free for this epoch's evaluation and the package's (export, validation through the
            # predictor on the original files): large validation sets must not push past the deadline
            reserve = 3 * (time.monotonic() - t_eval) + 2.0
            run.epochs, epoch_seconds = epoch, time.monotonic() - t0
            if not run.all_images:
                self._curve(ctx, candidate, epoch, train_loss, accuracy, val_loss)
            progress = self._keep_best(run, model, epoch, accuracy, val_loss)
            if scratch or not self._select:  # the last epoch's weights (see above; a small split: the
                # best of its epochs would be judged as one of many); the best epoch only counts as progress
                run.best_state, run.best_accuracy, run.best_loss = state_dict_copy(model), accuracy, val_loss
                run.best_epoch = epoch
            stale = 0 if progress else stale + 1
            self._progress(ctx, candidate, epoch, None if run.all_images else run.best_accuracy)
            run.stopped = not complete
            if not complete or stale >= patience:
                break
        run.seconds = time.monotonic() - started
        return run

    @staticmethod
    def _keep_best(run: _Run, model: nn.Module, epoch: int, accuracy: float, val_loss: float) -> bool:
        """Keeps the weights of the best epoch (accuracy, then loss); True when the epoch made progress.

        Progress is a better accuracy *or* a lower validation loss: on small validation sets accuracy moves
        in coarse steps, and stopping on it alone ends training while the model is still improving.
        """
        progress = accuracy > run.best_accuracy or val_loss < run.lowest_loss - 1e-4
        run.lowest_loss = min(run.lowest_loss, val_loss)
        if run.best_state is None or (accuracy, -val_loss) > (run.best_accuracy, -run.best_loss):
            run.best_state, run.best_accuracy, run.best_loss = state_dict_copy(model), accuracy, val_loss
            run.best_epoch = epoch
        return progress

    @staticmethod
    def _epoch(
        model, loader, optimizer, loss_fn, device, ctx, until, schedule, arithmetic
    ) -> tuple[float, bool]:
        model.train()
        total, count = 0.0, 0
        for step, (images, targets) in enumerate(loader):
            if count and (ctx.should_stop() or time.monotonic() > until):
                return total / count, False
            schedule.set(step / max(1, len(loader)))
            images, targets = arithmetic.layout(images.to(device)), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            with arithmetic.autocast(device):
                loss = loss_fn(model(images), targets)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()) * len(targets), count + len(targets)
        return total / max(count, 1), True

    @staticmethod
    def _evaluate(model, eval_x, eval_y, spec, loss_fn, device) -> tuple[float, float]:
        model.eval()
        logits = []
        with torch.no_grad():
            for start in range(0, len(eval_x), 64):
                batch = np.stack([normalize(pixels, spec) for pixels in eval_x[start : start + 64]])
                logits.append(model(torch.from_numpy(batch).to(device)).float().cpu())
        out = torch.cat(logits)
        accuracy = float((out.argmax(1) == eval_y).float().mean())
        return accuracy, float(loss_fn(out, eval_y))

    @staticmethod
    def _curve(ctx, candidate, epoch, train_loss, accuracy, val_loss) -> None:
        ctx.curve("train_loss", candidate=candidate.name, epoch=epoch, value=round(train_loss, 6))
        ctx.curve("val_loss", candidate=candidate.name, epoch=epoch, value=round(val_loss, 6))
        ctx.curve("val_accuracy", candidate=candidate.name, epoch=epoch, value=round(accuracy, 6))

    def _progress(self, ctx: TrainContext, candidate: Candidate, epoch: int, best: float | None) -> None:
        start, total = self._budget
        percent = 5 + 90 * min(1.0, (time.monotonic() - start) / total)
        details = {"candidate": candidate.name, "epoch": epoch}
        ctx.report(percent, "training", details if best is None else {"accuracy": best, **details})
