"""Object detection engine: a small CenterNet/TTFNet-style detector trained from scratch at the images' own size.

Why this design: from random weights on a 2-core CPU, an ImageNet backbone at 416 px (resnet18d) gets a few
hundred steps in minutes and learns nothing (mAP@0.5 0.007 after 6 minutes on 240 VOC images of ~160 x 140).
The objects users label on their own machines are found by colour, shape and size, at the images' native
resolution: a few conv-BN-ReLU stages to stride 16 with an FPN neck back to stride 4 (boxes of 10 px still
cover 2-3 heat-map cells; the stride 8/16 features see objects up to ~100 px) trains 1-8 thousand images a
second on one CPU thread at 64-160 px, so the same budget gives hundreds of epochs instead of a few.

1. **Preparing data.** Every image is decoded and letterboxed once (:mod:`.data`, the predictor's code) at
   the input size: the images' median longer side rounded to a multiple of 32 (at least 64, at
   most :data:`~.plan.SCRATCH_MAX_SIZE`; no upscaling of small images).
2. **Planning** (:mod:`.plan`): the candidates of the preference (``scratch<W>`` widths; timm backbones only
   with their weights in ``EXEML_PRETRAINED_DIR`` or on a GPU; the narrowest at 0.8 times the size too
   when the small boxes stay >= 8 px there), those beyond ``max_inference_ms`` left out
   (each exported network timed with the predictor, CPU, batch 1), one training step of each timed on the
   canvases; the widest that gets :data:`~.plan.MIN_EPOCHS` epochs in the time left is trained. The plan
   (data, machine, measured step costs, choice and why) goes into ``EngineResult.plan`` and the log.
   ``EXEML_DETECTION_CANDIDATES`` (or ``params.extra["detection_candidates"]``), e.g. ``"resnet10t@128"``,
   replaces the portfolio for operators and tests.
3. **Training.** Batches get flip / zoom / shift / colour augmentation; AdamW, warm-up then cosine decay over
   the planned epochs or the time left, whichever ends first. The model is evaluated on the validation
   images (mAP@0.5, then mAP@0.5:0.95) after the epochs whose pass costs at most ~15 % of the training time,
   always after the last; the best evaluated epoch is kept. A stop request or the deadline ends training.
4. **Incremental training.** When ``params.incremental_package_dir`` is a detection package with the same
   labels, its ``model.pt`` (backbone, input size, weights) is the candidate and its starting point.
5. **Packaging, evaluating** (:mod:`.package`): ``model.onnx`` (opset 17; outputs ``scores`` and ``boxes``)
   checked against torch, ``model.pt``, ``manifest.json``; the metrics are computed by running the
   validation images through the package's own predictor. ``EngineResult.quality`` compares its mAP@0.5
   with the mean-box baseline's (one box per image: the mean training box, in shares of the image size,
   labelled with the commonest class, score 1) on the same images and with the same code. A candidate that
   finds no object on the validation images has failed (recorded as such; the gate then rejects it).
   The gate's binomial test counts the validation *images* (``metrics["eval_count"]``), not the objects
   (``object_count``): the objects of one image share its background, clutter and scale, so they are not
   independent trials, and the smaller count is the stricter test (30 generated images, 6 for validation:
   the model needs mAP@0.5 >= 1/6 against a mean box at 0; with 9 objects it would need 1/9).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from shared.packages.detection import Detections
from trainer.engines.base import Baseline, DataError, EngineResult, QualityReport, TrainContext
from trainer.engines.object_detection import package as detection_package
from trainer.engines.object_detection import training
from trainer.engines.object_detection.metrics import iou_matrix, mean_average_precision
from trainer.engines.object_detection.plan import (
    MAX_EPOCHS,
    MIN_BOX_PX,
    PORTFOLIO,
    SCORE_THRESHOLD,
    SCRATCH_MAX_SIZE,
    SMALLER,
    TIMM_PORTFOLIO,
    Candidate,
    Plan,
    choose,
    preprocessing_spec,
)
from trainer.engines.settings import engine_settings

__all__ = [
    "PORTFOLIO",
    "SCORE_THRESHOLD",
    "Candidate",
    "DataError",
    "ObjectDetectionEngine",
    "mean_box_baseline",
]

MEAN_BOX = "mean box"
PRIOR_BOXES = "prior boxes"
PRIOR_TOP = 100  # boxes the prior-boxes baseline answers on every image (the model's own maximum)


class ObjectDetectionEngine:
    name: ClassVar[str] = "object_detection"
    task_types: ClassVar[tuple[str, ...]] = ("object_detection",)

    def train(self, ctx: TrainContext) -> EngineResult:
        started = time.monotonic()
        ctx.report(1, "preparing data")
        labels = _labels(ctx)
        _check_data(ctx, labels)
        previous = detection_package.previous_model(ctx, labels)
        run = training.Run(ctx, labels, previous)
        candidates = _candidates(ctx, previous)
        for size in sorted({c.image_size for c in candidates}):
            run.sets(size)
        data = _summary(ctx, run, labels, time.monotonic() - started)
        ctx.log(f"object detection plan: data {data}")

        ctx.report(5, "planning")
        candidates, tried = run.within_latency(candidates)
        the_plan = _plan(ctx, run, candidates)
        plan_record = {
            "data": data,
            "machine": _machine(),
            "considered": [c.name for c in candidates],
            "timm_backbones": "with their weights in EXEML_PRETRAINED_DIR or on a GPU only",
            **{k: v for k, v in asdict(the_plan).items() if k != "candidate"},
            "candidate": the_plan.candidate.name,
            "selection": "validation mAP@0.5, then mAP@0.5:0.95, of the evaluated epochs",
        }
        ctx.log(f"object detection plan: {the_plan.why}; measured {the_plan.measured}")

        ctx.report(10, "training")
        trained = run.fit(the_plan)
        failed = trained.found == 0
        # how many validation scores the kept epoch was the best of: the quality gate shares its 5 % among
        # them (a network of shuffled boxes found 1 object of 9 on 6 images, mAP@0.5 0.2, as the best epoch)
        plan_record["selection_compared"] = trained.evaluations
        if failed:
            ctx.log(
                f"{trained.candidate.name} found no object on the validation images: the candidate failed"
            )

        ctx.report(88, "packaging")
        metrics = run.package(trained, preprocessing_spec(trained.candidate.image_size))
        trivial_name, trivial = max(
            (MEAN_BOX, mean_box_baseline(ctx, labels, run.truths)),
            (PRIOR_BOXES, prior_boxes_baseline(ctx, labels, run.truths)),
            key=lambda named: named[1],
        )
        ctx.log(
            f"object detection: mAP@0.5 {metrics['map_50']:.3f} ({trivial_name} {trivial:.3f}), mAP@0.5:0.95 "
            f"{metrics['map']:.3f} in {time.monotonic() - started:.1f} s"
        )
        ctx.report(100, "evaluating", {"map_50": metrics["map_50"], "map": metrics["map"]})
        return EngineResult(
            engine=self.name,
            candidate=trained.candidate.name,
            metrics=metrics,
            candidates=[
                *tried,
                {
                    "name": trained.candidate.name,
                    "score": metrics["map_50"],
                    "seconds": round(trained.seconds, 2),
                    "epochs": trained.epochs,
                    "best_epoch": trained.best_epoch,
                    **({"failed": "no object found on the validation images"} if failed else {}),
                },
            ],
            stopped_early=trained.stopped_early,
            quality=QualityReport(
                metric="map_50",
                higher_is_better=True,
                model=float(metrics["map_50"]),
                trivial=Baseline(trivial_name, trivial),
                simple=None,
                compared=max(1, trained.evaluations),
            ),
            plan=plan_record,
        )


def mean_box_baseline(ctx: TrainContext, labels: list[str], truths: list[Any]) -> float:
    """mAP@0.5 on the validation images of one box per image: the mean training box (in shares of its
    image's width and height, so that images of several sizes mix) labelled with the commonest class."""
    shares, classes = _training_boxes(ctx, labels)
    if not len(shares):
        return 0.0
    mean = np.mean(shares, axis=0)
    label = Counter(classes.tolist()).most_common(1)[0][0]
    found = []
    for s in ctx.data.eval:
        width, height = _size(s)
        box = mean * np.asarray([width, height, width, height], dtype=np.float64)
        found.append(Detections(box.reshape(1, 4), np.ones(1), np.asarray([label], dtype=np.int64)))
    return float(mean_average_precision(found, truths, len(labels))["map_50"])


def _training_boxes(ctx: TrainContext, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The training boxes in shares of their image's width and height, and their class indices."""
    shares, classes = [], []
    for s in ctx.data.train:
        width, height = _size(s)
        for name, (x1, y1, x2, y2) in s.boxes:
            if name in labels:
                shares.append((x1 / width, y1 / height, x2 / width, y2 / height))
                classes.append(labels.index(name))
    return np.asarray(shares, dtype=np.float64).reshape(-1, 4), np.asarray(classes, dtype=np.int64)


def prior_boxes_baseline(ctx: TrainContext, labels: list[str], truths: list[Any]) -> float:
    """mAP@0.5 on the validation images of a detector that never looks at the image: on every image, the
    :data:`PRIOR_TOP` training boxes (in shares of the image) that match the most other training boxes of
    their class at IoU 0.5, scored by that count — what the box statistics alone find.

    The mean box misses every object when objects are anywhere in the image (mAP 0, so one lucky hit on a
    few validation images passed the gate: a network trained on shuffled annotations reached 0.17 on 6);
    answering many prior boxes finds an object now and then (0.01–0.03 on the same data), so the gate
    compares the model with the stronger of the two.
    """
    boxes, classes = _training_boxes(ctx, labels)
    if not len(boxes):
        return 0.0
    same = (classes[:, None] == classes[None, :]) & (iou_matrix(boxes, boxes) >= 0.5)
    support = same.sum(axis=1).astype(np.float64)
    # each distinct box once (a box answered twice is a false positive), with its support among all of them
    _, first = np.unique(np.column_stack([boxes, classes]), axis=0, return_index=True)
    boxes, classes, support = boxes[first], classes[first], support[first]
    top = np.argsort(-support, kind="stable")[:PRIOR_TOP]
    found = []
    for s in ctx.data.eval:
        width, height = _size(s)
        scaled = boxes[top] * np.asarray([width, height, width, height], dtype=np.float64)
        found.append(Detections(scaled, support[top] / support.max(), classes[top]))
    return float(mean_average_precision(found, truths, len(labels))["map_50"])


def _size(sample: Any) -> tuple[int, int]:
    if sample.width and sample.height:
        return int(sample.width), int(sample.height)
    from PIL import Image

    with Image.open(sample.path) as image:
        return image.size


def _plan(ctx: TrainContext, run: training.Run, candidates: list[Candidate]) -> Plan:
    """Measured step cost of every candidate, then :func:`plan.choose` within the training time left."""
    steps = {c: run.measure_step(c) for c in candidates}
    train_seconds = ctx.remaining_seconds() - run.package_reserve()
    max_epochs = int(ctx.params.extra.get("max_epochs") or MAX_EPOCHS[ctx.params.preference])
    return choose(candidates, steps, train_seconds, len(ctx.data.train), run.batch_size(), max_epochs)


def _summary(ctx: TrainContext, run: training.Run, labels: list[str], seconds: float) -> dict[str, Any]:
    sizes = [_size(s) for s in ctx.data.train[:500]]
    sides = [b for s in ctx.data.train for _, box in s.boxes for b in (box[2] - box[0], box[3] - box[1])]
    per_class = Counter(name for s in ctx.data.train for name, _ in s.boxes)
    return {
        "train_images": len(ctx.data.train),
        "validation_images": len(ctx.data.eval),
        "train_boxes": int(sum(per_class.values())),
        "validation_boxes": int(sum(len(t.classes) for t in run.truths)),
        "boxes_per_class": {label: per_class.get(label, 0) for label in labels},
        "image_size_median": [int(np.median([w for w, _ in sizes])), int(np.median([h for _, h in sizes]))],
        "box_side_px_p10_p50_p90": [round(float(v), 1) for v in np.percentile(sides, [10, 50, 90])]
        if sides
        else [],
        "decode_seconds": round(seconds, 2),
    }


def _machine() -> dict[str, Any]:
    import torch

    from trainer.engines.common.torch_setup import torch_threads

    return {"cores": os.cpu_count(), "torch_threads": torch_threads(), "gpu": bool(torch.cuda.is_available())}


def _labels(ctx: TrainContext) -> list[str]:
    labels = list(ctx.data.labels)
    seen = sorted({name for s in [*ctx.data.train, *ctx.data.eval] for name, _ in s.boxes})
    return labels + [x for x in seen if x not in labels] if labels else seen


def _check_data(ctx: TrainContext, labels: list[str]) -> None:
    boxed = [s for s in ctx.data.train if s.boxes]
    if not labels:
        raise DataError("the version has no labeled boxes")
    if len(boxed) < 2:
        raise DataError(f"{len(boxed)} training image(s) with boxes: at least 2 are needed")
    if not ctx.data.eval:
        raise DataError("the version has no validation images (set a train ratio below 1)")
    for s in [*ctx.data.train, *ctx.data.eval]:
        if s.path is None or not Path(s.path).is_file():
            raise DataError(f"sample {s.sample_id}: its image file is missing")


def _candidates(ctx: TrainContext, previous: dict[str, Any] | None) -> list[Candidate]:
    if previous is not None:  # incremental: the previous architecture, nothing else fits its weights
        return [Candidate(previous["backbone"], int(previous["image_size"]), int(previous["channels"]))]
    override = ctx.params.extra.get("detection_candidates") or engine_settings().detection_candidates
    cap = _size_cap(ctx)
    if override:
        out = []
        for item in str(override).split(","):
            backbone, _, at = item.strip().partition("@")
            channels = 32 if backbone.startswith("scratch") else 64
            out.append(Candidate(backbone, int(at or min(cap, SCRATCH_MAX_SIZE)), channels))
        return out
    found: list[Candidate] = []
    import torch

    gpu = torch.cuda.is_available()
    for backbone, size, channels in TIMM_PORTFOLIO[ctx.params.preference]:
        if gpu or detection_package.pretrained_file(backbone) is not None:
            found.append(Candidate(backbone, min(size, cap), channels))
    size = min(SCRATCH_MAX_SIZE, cap)
    for backbone, channels in PORTFOLIO[ctx.params.preference]:
        found.append(Candidate(backbone, size, channels))
    smaller = max(64, math.floor(size * SMALLER / 32.0 + 0.5) * 32)
    sides = [b for s in ctx.data.train for _, box in s.boxes for b in (box[2] - box[0], box[3] - box[1])]
    # the letterbox's scale at the smaller size, for an image of the typical size
    scale = smaller / max(cap, 1)
    if smaller < size and sides and float(np.percentile(sides, 10)) * scale >= MIN_BOX_PX:
        backbone, channels = PORTFOLIO[ctx.params.preference][-1]
        found.append(Candidate(backbone, smaller, channels))
    return list(dict.fromkeys(found))


def _size_cap(ctx: TrainContext) -> int:
    """The images' median longer side rounded to the nearest multiple of 32 (at least 64): no pointless
    upscaling (a step's cost grows with the square of the size: 192 px cost 1.4 times 160 px)."""
    from PIL import Image

    sides = []
    for s in ctx.data.train[:200]:
        if s.width and s.height:
            sides.append(max(s.width, s.height))
        else:
            with Image.open(s.file()) as image:
                sides.append(max(image.size))
    side = float(np.median(sides)) if sides else 320.0
    return max(64, math.floor(side / 32.0 + 0.5) * 32)
