"""The object detection engine against the trivial per-class mean-box detector, on the same data in one run.

Data: generated scenes (``shared.testing.datagen.detection_files``: three classes of coloured shapes on
noise, PASCAL VOC labels), 128 x 128 by default, separate seeds for training and validation. The platform
trains under ``--budget`` seconds (its own portfolio for ``--preference``); the baseline "trains" on the
same training images: each class's mean box, answered on every image with score 1. Both are scored on the
same validation images with the same code (COCO mAP@0.5 and mAP@0.5:0.95, the engine's own numpy code;
precision/recall/F1 at the serving threshold), the platform through its package's predictor. Wall times: training
(packaging and evaluation included) and prediction per image.

    python bench/bench_detection.py [--budget 120] [--images 160] [--size 128]
                                    [--preference performance_first]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData
from trainer.engines.object_detection.data import voc_samples
from trainer.engines.object_detection.engine import SCORE_THRESHOLD, ObjectDetectionEngine
from trainer.engines.object_detection.metrics import Truth, detection_metrics

from shared.packages import load_predictor
from shared.packages.detection import Detections
from shared.testing.datagen import detection_files

CLASSES = ("red", "blue", "green")


def _truths(samples: list[Sample]) -> list[Truth]:
    return [
        Truth(np.array([b for _, b in s.boxes]), np.array([CLASSES.index(n) for n, _ in s.boxes]))
        for s in samples
    ]


def mean_box_baseline(train: list[Sample], evaluation: list[Sample]) -> tuple[list[Detections], float]:
    started = time.perf_counter()
    boxes = [b for s in train for b in s.boxes]
    means = np.stack([np.mean([box for name, box in boxes if name == c], axis=0) for c in CLASSES])
    found = [Detections(means, np.ones(len(CLASSES)), np.arange(len(CLASSES))) for _ in evaluation]
    return found, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=float, default=120.0, help="training budget of the platform, seconds"
    )
    parser.add_argument("--images", type=int, default=160, help="training images (validation: a quarter)")
    parser.add_argument("--size", type=int, default=128, help="scene width and height, pixels")
    parser.add_argument(
        "--preference",
        default="performance_first",
        choices=["performance_first", "balance", "accuracy_first"],
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train = voc_samples(root / "train", detection_files(args.images, args.size, seed=11, classes=CLASSES))
        evaluation = voc_samples(
            root / "eval", detection_files(max(8, args.images // 4), args.size, seed=12, classes=CLASSES)
        )
        truths = _truths(evaluation)
        ctx = TrainContext(
            params=TrainingParams(preference=args.preference, max_training_seconds=args.budget),
            data=VersionData(
                task_type="object_detection", labels=list(CLASSES), train=train, eval=evaluation
            ),
            work_dir=root / "work",
            package_dir=root / "package",
            deadline=time.monotonic() + args.budget,
            packaging_margin_seconds=min(10.0, args.budget / 6),
            log=lambda line: print("  |", line),
        )
        started = time.monotonic()
        result = ObjectDetectionEngine().train(ctx)
        platform_seconds = time.monotonic() - started
        predictor = load_predictor(ctx.package_dir)
        payloads = [Path(s.path).read_bytes() for s in evaluation]
        t0 = time.perf_counter()
        for payload in payloads:
            predictor.predict(payload)
        per_image_ms = (time.perf_counter() - t0) * 1000 / len(payloads)

        baseline, baseline_seconds = mean_box_baseline(train, evaluation)
        base = detection_metrics(baseline, truths, CLASSES, SCORE_THRESHOLD)
        ours = result.metrics
        print(
            f"object detection: {len(train)} training / {len(evaluation)} validation scenes of "
            f"{args.size}x{args.size}, {len(CLASSES)} classes, budget {args.budget:.0f} s, "
            f"preference {args.preference}"
        )
        print(f"{'contestant':<42} {'mAP@.5':>7} {'mAP@.5:.95':>10} {'F1':>6} {'train s':>8} {'ms/img':>7}")
        print(
            f"{'platform ' + result.candidate:<42} {ours['map_50']:7.3f} {ours['map']:10.3f} "
            f"{ours['f1']:6.3f} "
            f"{platform_seconds:8.1f} {per_image_ms:7.2f}"
        )
        print(
            f"{'baseline per-class mean box (score 1)':<42} {base['map_50']:7.3f} {base['map']:10.3f} "
            f"{base['f1']:6.3f} {baseline_seconds:8.3f} {'-':>7}"
        )
        best = result.candidates[-1]
        print(
            f"platform: {best['epochs']} epochs, best epoch {best['best_epoch']}, "
            f"stopped by the budget: {result.stopped_early}"
        )


if __name__ == "__main__":
    main()
