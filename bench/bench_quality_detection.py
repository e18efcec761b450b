"""Object detection quality: the engine against the mean-box baseline, same data, same budget, same run.

Data (generated, seeded; :func:`scenes`): non-square images (144-176 x 128-152 px) on a textured background
(low-frequency colour blobs + pixel noise), 1-4 objects of three classes that differ in *shape* only —
``square`` (filled rectangle, aspect 0.75-1.33), ``disc`` (filled ellipse, same aspects), ``triangle`` —
each in a random colour of one shared palette (colour tells nothing), box sides 10-70 px; clutter: 1-4
distractor shapes per image (rings, crosses, thin bars) in the same colours. 240 training images (the size
of a small user dataset), 400 test images from another seed (held out).

Systems: the engine (``load_engine("object_detection").train`` on the training images, which holds out its
own validation split; its package predicting the test images; wall time of the job's training part,
packaging included); a fixed small from-scratch detector (:data:`FIXED`: the narrowest scratch network at
128 px whatever the data and budget, trained the same way for the same budget); and the ``mean-box``
baseline (one box per image: the mean training box in shares of the image size, labelled with the commonest
class, score 1). All are scored with the engine's mAP@0.5 code on the test images. Prints one ``QUALITY`` line per (dataset, budget, system) and the ratio table;
exits non-zero when the engine is below the baseline or its wall time exceeds the budget by more than 5 %.

    python bench/bench_quality_detection.py [--budgets 60,360] [--seeds 1,2] [--quick]

The shortest budget runs on every seed, longer ones on the first seed only; ``--quick`` is one seed at 20 s
with fewer images and without the fixed detector.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from PIL import Image, ImageDraw
from quality_report import (
    ENGINE,
    PACKAGING_MARGIN,
    bench_options,
    engine_failure,
    planned_runs,
    quality_line,
    report,
)
from trainer.engines import load_engine
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData
from trainer.engines.object_detection.metrics import Truth, mean_average_precision

from shared.packages import load_predictor
from shared.packages.detection import Detections

TYPE = "object_detection"
CLASSES = ("square", "disc", "triangle")
PALETTE = [(220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 40), (160, 60, 200), (240, 240, 240)]
# The fixed small from-scratch detector baseline: the same head on the narrowest scratch network at a fixed
# 128 px, no planning (the epochs still fill the budget): what a user would write without measuring.
FIXED = "scratch8@128"
Scene = tuple[bytes, list[tuple[str, tuple[float, float, float, float]]], tuple[int, int]]


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Low-frequency colour blobs (a 6 x 6 random grid upsampled) plus pixel noise: a textured scene."""
    coarse = rng.integers(60, 190, (6, 6, 3), dtype=np.uint8)
    blobs = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    noise = rng.normal(0, 18, (height, width, 3))
    return Image.fromarray(np.clip(blobs + noise, 0, 255).astype(np.uint8))


def _overlaps(box: tuple[int, int, int, int], taken: list[tuple[int, int, int, int]]) -> bool:
    for t in taken:
        w = min(box[2], t[2]) - max(box[0], t[0])
        h = min(box[3], t[3]) - max(box[1], t[1])
        if w > 0 and h > 0:
            return True
    return False


def _place(
    rng: np.random.Generator, width: int, height: int, taken: list
) -> tuple[int, int, int, int] | None:
    for _ in range(30):
        side = float(np.exp(rng.uniform(np.log(10), np.log(70))))
        aspect = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
        w, h = max(10, round(side * aspect**0.5)), max(10, round(side / aspect**0.5))
        if w >= width or h >= height:
            continue
        x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        box = (x0, y0, x0 + w, y0 + h)
        if not _overlaps(box, taken):
            return box
    return None


def scenes(count: int, seed: int) -> list[Scene]:
    """``count`` (PNG bytes, [(class, xyxy box)], (width, height)) scenes; see the module docstring."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        width, height = int(rng.integers(144, 177)), int(rng.integers(128, 153))
        image = _background(rng, width, height)
        draw = ImageDraw.Draw(image)
        taken: list[tuple[int, int, int, int]] = []
        objects = []
        for _ in range(int(rng.integers(1, 5))):
            box = _place(rng, width, height, taken)
            if box is None:
                continue
            taken.append(box)
            label = CLASSES[int(rng.integers(0, 3))]
            colour = PALETTE[int(rng.integers(0, len(PALETTE)))]
            x0, y0, x1, y1 = box
            if label == "square":
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour)
            elif label == "disc":
                draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=colour)
            else:
                draw.polygon([((x0 + x1) / 2, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)], fill=colour)
            objects.append((label, (float(x0), float(y0), float(x1), float(y1))))
        for _ in range(int(rng.integers(1, 5))):  # clutter: shapes of no class, may overlap objects' edges
            box = _place(rng, width, height, taken)
            if box is None:
                continue
            colour = PALETTE[int(rng.integers(0, len(PALETTE)))]
            x0, y0, x1, y1 = box
            kind = int(rng.integers(0, 3))
            if kind == 0:
                draw.ellipse((x0, y0, x1 - 1, y1 - 1), outline=colour, width=2)
            elif kind == 1:
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                draw.line((x0, cy, x1, cy), fill=colour, width=3)
                draw.line((cx, y0, cx, y1), fill=colour, width=3)
            else:
                draw.rectangle((x0, (y0 + y1) / 2 - 2, x1, (y0 + y1) / 2 + 2), fill=colour)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        out.append((buffer.getvalue(), objects, (width, height)))
    return out


def _truths(data: list[Scene]) -> list[Truth]:
    return [
        Truth(
            np.asarray([b for _, b in objects], dtype=np.float64).reshape(-1, 4),
            np.asarray([CLASSES.index(name) for name, _ in objects], dtype=np.int64),
        )
        for _, objects, _ in data
    ]


def mean_box(train: list[Scene], test: list[Scene]) -> float:
    """mAP@0.5 of one box per image: the mean training box in shares of the image, the commonest class."""
    shares = [(b[0] / w, b[1] / h, b[2] / w, b[3] / h) for _, objects, (w, h) in train for _, b in objects]
    mean = np.mean(np.asarray(shares), axis=0)
    label = CLASSES.index(Counter(n for _, objects, _ in train for n, _ in objects).most_common(1)[0][0])
    found = [
        Detections((mean * np.asarray([w, h, w, h]))[None], np.ones(1), np.asarray([label]))
        for _, _, (w, h) in test
    ]
    return float(mean_average_precision(found, _truths(test), len(CLASSES))["map_50"])


def _engine(
    train: list[Scene],
    test: list[Scene],
    budget: float,
    seed: int,
    preference: str,
    work: Path,
    fixed: str | None = None,
) -> tuple[float, float, str]:
    """mAP@0.5 on ``test`` of the engine's package, its wall time and a description; ``fixed`` (e.g.
    ``"scratch8@128"``) replaces the engine's planned candidate: the fixed small detector baseline."""
    folder = work / "images"
    folder.mkdir(parents=True)
    samples = []
    for i, (payload, objects, (w, h)) in enumerate(train):
        path = folder / f"{i:04d}.png"
        path.write_bytes(payload)
        samples.append(
            Sample(str(i), sorted({n for n, _ in objects}), path, boxes=objects, width=w, height=h)
        )
    split = round(0.8 * len(samples))  # the platform's default train ratio
    engine = load_engine(TYPE)
    started = time.monotonic()
    ctx = TrainContext(
        params=TrainingParams(
            preference=preference,  # type: ignore[arg-type]  # one of the choices bench_options offers
            seed=seed,
            extra={"detection_candidates": fixed} if fixed else {},
        ),
        data=VersionData(TYPE, list(CLASSES), train=samples[:split], eval=samples[split:]),
        work_dir=work,
        package_dir=work / "package",
        deadline=started + budget,
        packaging_margin_seconds=PACKAGING_MARGIN,
        log=lambda line: print(f"    | {line}", flush=True),
    )
    result = engine.train(ctx)
    wall = time.monotonic() - started
    predictor = load_predictor(ctx.package_dir)
    found = []
    for i in range(0, len(test), 16):
        found += predictor.detect_batch([p for p, _, _ in test[i : i + 16]], score_threshold=0.01)  # type: ignore[attr-defined]  # a DetectionPredictor
    score = float(mean_average_precision(found, _truths(test), len(CLASSES))["map_50"])
    return score, wall, f"{result.candidate}; validation mAP@0.5 {result.metrics['map_50']:.3f}"


def run_row(
    seed: int, budget: float, images: int, preference: str, skip_fixed: bool = False
) -> tuple[list[tuple[str, float, float]], list[str]]:
    train = scenes(images, 1000 + seed)
    test = scenes(max(20, images * 5 // 3), 5000 + seed)
    objects = sum(len(o) for _, o, _ in train)
    print(
        f"== shapes seed {seed}: {len(train)} training images ({objects} objects), {len(test)} test images, "
        f"budget {budget:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        score, wall, detail = _engine(train, test, budget, seed, preference, Path(tmp))
    print(f"   engine: {detail}")
    rows = [(ENGINE, score, wall), ("mean-box", mean_box(train, test), 0.0)]
    if not skip_fixed:
        with tempfile.TemporaryDirectory() as tmp:
            fixed, fixed_wall, detail = _engine(train, test, budget, seed, preference, Path(tmp), FIXED)
        print(f"   fixed small detector: {detail}")
        rows.append((f"small-cnn-{FIXED}", fixed, fixed_wall))
    lines = [
        quality_line(TYPE, f"shapes-s{seed}", budget, system, "map_50", value, seconds)
        for system, value, seconds in rows
    ]
    return rows, lines


def main() -> int:
    args, budgets, seeds = bench_options(__doc__, ["shapes"])
    images = 96 if args.quick else 240
    table, failures, lines = [], [], []
    for _, seed, budget in planned_runs(["shapes"], budgets, seeds):
        rows, printed = run_row(seed, budget, images, args.preference, skip_fixed=args.quick)
        lines += printed
        best = max(value for system, value, _ in rows if system != ENGINE)
        table += [(f"shapes-s{seed}", budget, system, value, wall) for system, value, wall in rows]
        if failure := engine_failure(f"shapes-s{seed}", budget, rows[0][1:], best):
            failures.append(failure)
    print(f"\n{'data':<12}{'budget':>7}  {'system':<26}{'mAP@0.5':>9}{'wall s':>8}")
    for data, budget, system, value, wall in table:
        print(f"{data:<12}{budget:>7.0f}  {system:<26}{value:>9.3f}{wall:>8.1f}")
    return report(lines, failures)


if __name__ == "__main__":
    sys.exit(main())
