"""Image classification quality: the engine against simple baselines, same data, same budget, same run.

Data (generated, seeded; :func:`shape_images`): four classes that differ in *shape* only — ``square``
(filled rectangle, aspect 0.8-1.25), ``disc`` (filled ellipse, same aspects), ``triangle`` (rotated) and
``cross`` (a plus sign, rotated) — each in a random colour of one shared palette (colour tells nothing),
1.3 to 3.3 times smaller than the image's shorter side (30-80 % of it), anywhere in the image, on a textured
background (low-frequency colour blobs + pixel noise of 4-20 grey levels); PNG or JPEG (quality 70-95) at
random. Test images come from another seed (held out). Two data sets:

* ``shapes-40``: small images (36-44 x 36-44 px, not square), 60 training images a class (240);
* ``shapes-160``: 150-170 x 150-170 px with 1-3 distractors (thin lines, rings) in the palette's colours,
  40 training images a class (160).

Both have 400 test images (100 a class: with 100, one image moved a score by 0.01 and rows were decided
by two or three images). Systems: the engine (``load_engine("image_classification").train``
on all training images, which holds out its own validation split; its package predicting the test images;
wall time of the job's training part, packaging included); a fixed small CNN from scratch (:func:`small_cnn`:
four conv3x3-BN-ReLU-maxpool blocks of 16/32/64/128 channels at 64 px, Adam, flips and random resized crops,
trained on all training images until the same budget less the packaging margin runs out: what a user would
write without measuring); ``hog+logreg`` (oriented-gradient histograms of the 64 px grey image, 4 x 4 cells,
9 bins, 2 x 2 block normalisation + standardised logistic regression); the majority class (of the training
images). All are scored by accuracy on the test images. Prints one ``QUALITY`` line per (dataset, budget,
system) and the ratio table; exits non-zero when the engine is below the best baseline or its wall time
exceeds the budget by more than 5 %.

    python bench/bench_quality_image.py [--budgets 60,360] [--seeds 1,2] [--data shapes-40,shapes-160]
                                        [--quick]

The shortest budget runs on every seed, longer ones on the first seed only; ``--quick`` is one seed at 20 s
with fewer images and without the small CNN.
"""

from __future__ import annotations

import io
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
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
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from trainer.engines import load_engine
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData

from shared.packages import load_predictor

TYPE = "image_classification"
CLASSES = ("square", "disc", "triangle", "cross")
PALETTE = [(220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 40), (160, 60, 200), (240, 240, 240)]
# name: (image side range in px, training images a class, distractors a image (low, high))
DATASETS = {"shapes-40": ((36, 44), 60, (0, 0)), "shapes-160": ((150, 170), 40, (1, 3))}
TEST_IMAGES = 400
CNN_SIZE = 64  # the small CNN's and the HOG features' input side
SUPERSAMPLE = 4  # shapes are drawn on a 4x larger mask, then shrunk: anti-aliased edges
Shot = tuple[bytes, str, tuple[int, int]]  # file bytes, class, (width, height)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Low-frequency colour blobs (a random 3-6 cell grid upsampled): a textured scene, float RGB."""
    cells = int(rng.integers(3, 7))
    coarse = rng.integers(60, 190, (cells, cells, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.float32)


def _outline(label: str, rng: np.random.Generator, side: float) -> list[tuple[float, float]] | None:
    """The polygon of ``label`` around (0, 0), ``side`` px across (None: a disc, drawn as an ellipse)."""
    if label == "triangle":
        turn = rng.uniform(0, 2 * math.pi)
        radius = 0.55 * side
        return [
            (radius * math.cos(turn + k * 2 * math.pi / 3), radius * math.sin(turn + k * 2 * math.pi / 3))
            for k in range(3)
        ]
    if label == "cross":
        arm, half = side / 2, side * rng.uniform(0.12, 0.18)
        plus = [
            (half, half),
            (arm, half),
            (arm, -half),
            (half, -half),
            (half, -arm),
            (-half, -arm),
            (-half, -half),
            (-arm, -half),
            (-arm, half),
            (-half, half),
            (-half, arm),
            (half, arm),
        ]
        turn = rng.uniform(0, math.pi / 2)
        cos, sin = math.cos(turn), math.sin(turn)
        return [(x * cos - y * sin, x * sin + y * cos) for x, y in plus]
    return None


def _draw(image: np.ndarray, mask: Image.Image, colour: np.ndarray) -> np.ndarray:
    """``image`` with ``colour`` painted where the (supersampled) mask is set, edges blended."""
    height, width = image.shape[:2]
    alpha = np.asarray(mask.resize((width, height), Image.Resampling.BOX), np.float32)[..., None] / 255
    return image * (1 - alpha) + colour * alpha


def _distractor(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A thin line across the image or a thin ring, as a supersampled mask."""
    k = SUPERSAMPLE
    mask = Image.new("L", (width * k, height * k))
    draw = ImageDraw.Draw(mask)
    thickness = int(rng.integers(1, 3)) * k
    if rng.random() < 0.5:
        x0, x1 = rng.uniform(0, width, 2) * k
        y0, y1 = rng.uniform(0, height, 2) * k
        draw.line((x0, y0, x1, y1), fill=255, width=thickness)
    else:
        radius = rng.uniform(0.06, 0.25) * min(width, height)
        cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
        draw.ellipse(
            ((cx - radius) * k, (cy - radius) * k, (cx + radius) * k, (cy + radius) * k),
            outline=255,
            width=thickness,
        )
    return mask


def shape_images(count: int, seed: int, sides: tuple[int, int], distractors: tuple[int, int]) -> list[Shot]:
    """``count`` images, the classes in equal shares (shuffled); see the module docstring."""
    rng = np.random.default_rng(seed)
    labels = [CLASSES[i % len(CLASSES)] for i in range(count)]
    rng.shuffle(labels)
    k = SUPERSAMPLE
    out = []
    for label in labels:
        width, height = (int(v) for v in rng.integers(sides[0], sides[1] + 1, 2))
        image = _background(rng, width, height)
        for _ in range(int(rng.integers(distractors[0], distractors[1] + 1))):
            colour = np.asarray(PALETTE[int(rng.integers(0, len(PALETTE)))], np.float32)
            image = _draw(image, _distractor(rng, width, height), colour)
        side = rng.uniform(0.3, 0.8) * min(width, height)
        cx, cy = rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2)
        mask = Image.new("L", (width * k, height * k))
        draw = ImageDraw.Draw(mask)
        outline = _outline(label, rng, side)
        if outline is None:  # square or disc: axis-aligned, aspect 0.8-1.25
            aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
            w, h = side * math.sqrt(aspect) / 2, side / math.sqrt(aspect) / 2
            box = ((cx - w) * k, (cy - h) * k, (cx + w) * k, (cy + h) * k)
            (draw.rectangle if label == "square" else draw.ellipse)(box, fill=255)
        else:
            draw.polygon([((cx + x) * k, (cy + y) * k) for x, y in outline], fill=255)
        colour = np.asarray(PALETTE[int(rng.integers(0, len(PALETTE)))], np.float32)
        image = _draw(image, mask, colour + rng.normal(0, 8, 3))
        image = image + rng.normal(0, rng.uniform(4, 20), image.shape)
        picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        if rng.random() < 0.5:
            picture.save(buffer, format="PNG")
        else:
            picture.save(buffer, format="JPEG", quality=int(rng.integers(70, 96)))
        out.append((buffer.getvalue(), label, (width, height)))
    return out


def _decode(payload: bytes) -> Image.Image:
    with Image.open(io.BytesIO(payload)) as image:
        return image.convert("RGB")


def _accuracy(predicted: list[str], data: list[Shot]) -> float:
    return float(np.mean([p == label for p, (_, label, _) in zip(predicted, data, strict=True)]))


# ---- baselines ---------------------------------------------------------------------------------------
def _cnn(classes: int) -> nn.Module:
    blocks: list[nn.Module] = []
    channels = 3
    for width in (16, 32, 64, 128):
        blocks += [
            nn.Conv2d(channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        channels = width
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))


def _tensor(images: list[Image.Image]) -> torch.Tensor:
    pixels = np.stack([np.asarray(i, np.float32) for i in images]) / 255
    return torch.from_numpy((pixels - 0.5) / 0.25).permute(0, 3, 1, 2).contiguous()


def _random_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random resized crop (40-100 % of the area, aspect 3/4-4/3) at 64 px, flipped at random."""
    width, height = image.size
    crop = image.resize((CNN_SIZE, CNN_SIZE), Image.Resampling.BILINEAR)
    for _ in range(10):
        area = width * height * rng.uniform(0.4, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < w <= width and 0 < h <= height:
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            crop = image.resize((CNN_SIZE, CNN_SIZE), Image.Resampling.BILINEAR, box=(x, y, x + w, y + h))
            break
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return crop


def small_cnn(train: list[Shot], test: list[Shot], budget: float, seed: int) -> tuple[float, float, int]:
    """Test accuracy, wall time and epochs of the fixed small CNN, trained on all training images (Adam
    1e-3, batch 32) until ``budget`` less the packaging margin is spent; the test images resized to 64 px."""
    started = time.monotonic()
    torch.set_num_threads(int(os.environ.get("EXEML_TORCH_THREADS", "1")))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = [_decode(p) for p, _, _ in train]
    targets = torch.tensor([CLASSES.index(label) for _, label, _ in train])
    model = _cnn(len(CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    until = started + budget - PACKAGING_MARGIN
    epochs = 0
    while time.monotonic() < until:
        model.train()
        order = rng.permutation(len(images))
        for start in range(0, len(order), 32):
            chosen = order[start : start + 32]
            if len(chosen) < 2:  # a batch of one breaks batch norm
                continue
            x = _tensor([_random_crop(images[i], rng) for i in chosen])
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), targets[chosen]).backward()
            optimizer.step()
            if time.monotonic() >= until:
                break
        epochs += 1
    model.eval()
    predicted = []
    with torch.no_grad():
        for start in range(0, len(test), 64):
            resized = [
                _decode(p).resize((CNN_SIZE, CNN_SIZE), Image.Resampling.BILINEAR)
                for p, _, _ in test[start : start + 64]
            ]
            predicted += [CLASSES[int(i)] for i in model(_tensor(resized)).argmax(1)]
    return _accuracy(predicted, test), time.monotonic() - started, epochs


def hog(payload: bytes) -> np.ndarray:
    """Oriented-gradient histograms of the 64 px grey image: 4 x 4 cells of 16 px, 9 unsigned orientation
    bins (votes split between the two nearest), each 2 x 2 block of cells L2-Hys normalised (324 values)."""
    grey = (
        np.asarray(
            _decode(payload).convert("L").resize((CNN_SIZE, CNN_SIZE), Image.Resampling.BILINEAR), np.float32
        )
        / 255
    )
    gx, gy = np.zeros_like(grey), np.zeros_like(grey)
    gx[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    gy[1:-1, :] = grey[2:, :] - grey[:-2, :]
    magnitude = np.hypot(gx, gy)
    position = (np.rad2deg(np.arctan2(gy, gx)) % 180) / 20 - 0.5  # bin centres at 10, 30, ... 170 degrees
    low = np.floor(position)
    upper = position - low
    rows, cols = np.indices(grey.shape) // (CNN_SIZE // 4)
    cells = np.zeros((4, 4, 9))
    np.add.at(cells, (rows, cols, low.astype(int) % 9), magnitude * (1 - upper))
    np.add.at(cells, (rows, cols, (low.astype(int) + 1) % 9), magnitude * upper)
    blocks = []
    for i in range(3):
        for j in range(3):
            block = cells[i : i + 2, j : j + 2].ravel()
            block = np.minimum(block / math.sqrt(float(block @ block) + 1e-6), 0.2)
            blocks.append(block / math.sqrt(float(block @ block) + 1e-6))
    return np.concatenate(blocks)


def hog_logreg(train: list[Shot], test: list[Shot]) -> tuple[float, float]:
    """Test accuracy and wall time of HOG + standardised logistic regression (C 1), fitted on all images."""
    started = time.monotonic()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(np.stack([hog(p) for p, _, _ in train]), [label for _, label, _ in train])
    predicted = list(model.predict(np.stack([hog(p) for p, _, _ in test])))
    return _accuracy(predicted, test), time.monotonic() - started


def majority(train: list[Shot], test: list[Shot]) -> float:
    commonest = Counter(label for _, label, _ in train).most_common(1)[0][0]
    return _accuracy([commonest] * len(test), test)


# ---- the engine --------------------------------------------------------------------------------------
def _engine(
    train: list[Shot], test: list[Shot], budget: float, seed: int, preference: str, work: Path
) -> tuple[float, float, str]:
    """Test accuracy of the engine's package, its wall time and a description of what it delivered."""
    folder = work / "images"
    folder.mkdir(parents=True)
    samples = []
    for i, (payload, label, _) in enumerate(train):
        suffix = "png" if payload.startswith(b"\x89PNG") else "jpg"
        path = folder / f"{i:04d}.{suffix}"
        path.write_bytes(payload)
        samples.append(Sample(str(i), [label], path))
    engine = load_engine(TYPE)
    started = time.monotonic()
    ctx = TrainContext(
        params=TrainingParams(
            preference=preference,  # type: ignore[arg-type]  # one of the choices bench_options offers
            max_training_seconds=budget,
            seed=seed,
        ),
        data=VersionData(TYPE, list(CLASSES), train=samples),  # no eval: the engine holds out its own
        work_dir=work,
        package_dir=work / "package",
        deadline=started + budget,
        packaging_margin_seconds=PACKAGING_MARGIN,
        log=lambda line: print(f"    | {line}", flush=True),
    )
    result = engine.train(ctx)
    wall = time.monotonic() - started
    predictor = load_predictor(ctx.package_dir)
    predicted = []
    for i in range(0, len(test), 32):
        predicted += [
            a["predicted_label"] for a in predictor.predict_batch([p for p, _, _ in test[i : i + 32]])
        ]
    tried = "; ".join(
        ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("latency_ms", "init"))
        for entry in result.candidates
    )
    detail = (
        f"{result.candidate}; validation accuracy {result.metrics['accuracy']:.3f}; "
        f"stopped early {result.stopped_early}\n   plan: {result.plan}\n   tried: {tried}"
    )
    return _accuracy(predicted, test), wall, detail


def run_row(
    data: str, seed: int, budget: float, scale: float, preference: str, skip_cnn: bool = False
) -> tuple[list[tuple[str, float, float]], list[str]]:
    """(system, accuracy, wall seconds) of the engine and each baseline, and their QUALITY lines."""
    sides, per_class, distractors = DATASETS[data]
    offset = list(DATASETS).index(data) * 100
    train = shape_images(round(per_class * scale) * len(CLASSES), 1000 + offset + seed, sides, distractors)
    test = shape_images(round(TEST_IMAGES * scale), 5000 + offset + seed, sides, distractors)
    print(
        f"== {data} seed {seed}: {len(CLASSES)} classes, {len(train)} training images, "
        f"{len(test)} test images, budget {budget:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        accuracy, wall, detail = _engine(train, test, budget, seed, preference, Path(tmp))
    print(f"   engine: {detail}", flush=True)
    rows = [(ENGINE, accuracy, wall), ("majority-class", majority(train, test), 0.0)]
    rows.append(("hog+logreg", *hog_logreg(train, test)))
    if not skip_cnn:
        cnn, cnn_wall, epochs = small_cnn(train, test, budget, seed)
        print(f"   small cnn: {epochs} epochs at {CNN_SIZE} px", flush=True)
        rows.append((f"small-cnn@{CNN_SIZE}", cnn, cnn_wall))
    lines = [
        quality_line(TYPE, f"{data}-s{seed}", budget, system, "accuracy", score, seconds)
        for system, score, seconds in rows
    ]
    return rows, lines


def main() -> int:
    args, budgets, seeds = bench_options(__doc__, list(DATASETS))
    scale = 0.4 if args.quick else 1.0
    table, failures, lines = [], [], []
    for data, seed, budget in planned_runs(args.data.split(","), budgets, seeds):
        rows, printed = run_row(data, seed, budget, scale, args.preference, skip_cnn=args.quick)
        lines += printed
        best = max(score for system, score, _ in rows if system != ENGINE)
        table += [
            (f"{data}-s{seed}", budget, system, score, score / max(best, 1e-9), wall)
            for system, score, wall in rows
        ]
        if failure := engine_failure(f"{data}-s{seed}", budget, rows[0][1:], best):
            failures.append(failure)
    print(f"\n{'data':<16}{'budget':>7}  {'system':<24}{'accuracy':>9}{'/best baseline':>15}{'wall s':>8}")
    for data, budget, system, score, ratio, wall in table:
        print(f"{data:<16}{budget:>7.0f}  {system:<24}{score:>9.3f}{ratio:>15.2f}{wall:>8.1f}")
    return report(lines, failures)


if __name__ == "__main__":
    sys.exit(main())
