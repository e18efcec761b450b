"""Images of a dataset version in memory for the vision engines: decoding, split, augmentation.

Images are decoded once with the predictor's own decoder (:func:`shared.packages.image.decode_image`, so
training sees exactly what serving sees) and kept in memory, shrunk so that their shorter side is at most
the largest size a candidate needs (about 0.35 MB an image for 256 px models: 1,000 images ≈ 350 MB).

**Multi-label images**: an image classification model here predicts one label per image. A sample with
several labels is trained and evaluated on its *first* label (the order of the dataset version's manifest);
its other labels are ignored. Samples without a label, or whose file is not a readable image, are skipped
and logged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from shared.packages import PredictionInputError
from shared.packages.image import decode_image
from trainer.engines.base import EngineError, Sample, TrainContext

__all__ = ["AugmentedBatches", "ImageSet", "augmented_loader", "load_image_sets"]

HOLDOUT = 0.2  # share of the training images held out when the version has no validation samples
AUG_SCALE = (0.6, 1.0)  # RandomResizedCrop: share of the image's area kept
AUG_RATIO = (0.85, 1.18)  # and the crop's aspect ratio
# Wider crops for long training (hundreds of epochs of the same few images): measured on the bench's shapes
# from scratch, they cost 0.05 accuracy at ~140 epochs (60 s) and gained 0.04 at ~500 (360 s)
AUG_SCALE_LONG = (0.4, 1.0)
AUG_RATIO_LONG = (3 / 4, 4 / 3)  # torchvision's default
LONG_TRAINING_EPOCHS = 300
AUG_JITTER = 0.2  # brightness, contrast and saturation jitter (no hue shift: colour may be the class)
AUG_VFLIP = False  # vertical flips: off unless the images have no up (see .symmetry)


@dataclass
class ImageSet:
    images: list[Any] = field(default_factory=list)  # RGB PIL images
    targets: list[int] = field(default_factory=list)  # class index (first label)
    paths: list[Path] = field(default_factory=list)  # the original files (served bytes)

    def __len__(self) -> int:
        return len(self.targets)


def _shrink(image: Any, max_shorter: int) -> Any:
    w, h = image.size
    if min(w, h) <= max_shorter:
        return image
    ratio = max_shorter / min(w, h)
    # bilinear like the predictor: for the largest candidate the cached image is then exactly its resize
    return image.resize((max(1, round(w * ratio)), max(1, round(h * ratio))), Image.Resampling.BILINEAR)


def _load(samples: list[Sample], labels: list[str], max_shorter: int, ctx: TrainContext) -> ImageSet:
    index = {label: i for i, label in enumerate(labels)}
    out, skipped = ImageSet(), 0
    for sample in samples:
        first = sample.labels[0] if sample.labels else None
        if first not in index or sample.path is None:
            skipped += 1
            continue
        try:
            image = decode_image(Path(sample.path).read_bytes())
        except (OSError, PredictionInputError) as exc:
            ctx.log(f"skipping sample {sample.sample_id or sample.path}: {exc}")
            skipped += 1
            continue
        out.images.append(_shrink(image, max_shorter))
        out.targets.append(index[first])
        out.paths.append(Path(sample.path))
    if skipped:
        ctx.log(f"skipped {skipped} of {len(samples)} samples (no known label or unreadable image)")
    return out


def _split(full: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """A 80/20 split for a version that came without validation samples."""
    order = list(range(len(full)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, int(len(order) * HOLDOUT))

    def subset(p: list[int]) -> ImageSet:
        return ImageSet([full.images[i] for i in p], [full.targets[i] for i in p], [full.paths[i] for i in p])

    return subset(order[n_eval:]), subset(order[:n_eval])


def load_image_sets(ctx: TrainContext, labels: list[str], max_shorter: int) -> tuple[ImageSet, ImageSet]:
    """The train and validation images of ``ctx.data`` (validation split off the train part when missing)."""
    train = _load(ctx.data.train, labels, max_shorter, ctx)
    evaluation = _load(ctx.data.eval, labels, max_shorter, ctx)
    if not len(evaluation):
        ctx.log("the version has no validation samples: holding out 20% of the training samples")
        train, evaluation = _split(train, ctx.params.seed)
    if len(train) < 2 or not len(evaluation):
        raise EngineError(
            f"not enough labeled images to train: {len(train)} for training, {len(evaluation)} for validation"
        )
    return train, evaluation


@dataclass
class AugmentedBatches:
    """Shuffled batches of augmented training images, a new draw every epoch (iterate once per epoch).

    Each image is cut by a random resized crop (torchvision's sampling: ``scale`` of the area, log-uniform
    aspect in ``ratio``, 10 tries, else the whole image) and resized to the input size in one PIL call;
    mirroring, colour jitter (brightness, contrast, saturation: no hue shift, colour may be the class) and the
    predictor's normalisation run on the whole batch as tensor operations. Per image, that is one resize:
    several times faster than a per-image transform pipeline, which on small images took longer than the
    network's step, so a budget trains more epochs of the same augmentation.
    """

    images: ImageSet
    size: tuple[int, int]  # (height, width)
    mean: torch.Tensor  # (1, 3, 1, 1)
    std: torch.Tensor
    batch_size: int
    generator: torch.Generator
    scale: tuple[float, float] = AUG_SCALE
    ratio: tuple[float, float] = AUG_RATIO
    jitter: float = AUG_JITTER
    vflip: bool = AUG_VFLIP

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self._drop_last else math.ceil(n / self.batch_size)

    @property
    def _drop_last(self) -> bool:
        return len(self.images) > self.batch_size  # a last batch of one breaks batch norm

    def _box(self, width: int, height: int) -> tuple[int, int, int, int]:
        area = width * height
        uniform = torch.rand(20, generator=self.generator).tolist()
        low, high = math.log(self.ratio[0]), math.log(self.ratio[1])
        for attempt in range(10):
            target = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * uniform[2 * attempt])
            aspect = math.exp(low + (high - low) * uniform[2 * attempt + 1])
            w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                x = int(torch.randint(0, width - w + 1, (1,), generator=self.generator))
                y = int(torch.randint(0, height - h + 1, (1,), generator=self.generator))
                return x, y, x + w, y + h
        return 0, 0, width, height

    def _crop(self, image: Any) -> np.ndarray:
        height, width = self.size
        box = self._box(*image.size)
        return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR, box=box))

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]

        def factors() -> torch.Tensor:
            return 1 + self.jitter * (2 * torch.rand(n, 1, 1, 1, generator=self.generator) - 1)

        x = (x * factors()).clamp(0, 1)  # brightness
        mean = (x * GREY_WEIGHTS).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)
        x = (mean + factors() * (x - mean)).clamp(0, 1)  # contrast: towards or away from the mean grey
        grey = (x * GREY_WEIGHTS).sum(dim=1, keepdim=True)
        return (grey + factors() * (x - grey)).clamp(0, 1)  # saturation: towards or away from grey

    def batch(self, indices: list[int]) -> torch.Tensor:
        pixels = np.stack([self._crop(self.images.images[i]) for i in indices])
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255)
        n = len(indices)
        flip = torch.rand(n, generator=self.generator) < 0.5
        x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
        if self.vflip:
            flip = torch.rand(n, generator=self.generator) < 0.5
            x = torch.where(flip.view(n, 1, 1, 1), x.flip(2), x)
        if self.jitter:
            x = self._jitter(x)
        return ((x - self.mean) / self.std).contiguous()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.images), generator=self.generator).tolist()
        targets = torch.tensor(self.images.targets)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chosen = order[start : start + self.batch_size]
            yield self.batch(chosen), targets[chosen]


GREY_WEIGHTS = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)  # ITU-R 601 luma, as PIL's "L"


def augmented_loader(
    images: ImageSet,
    spec: dict[str, Any],
    batch_size: int,
    seed: int,
    epochs: int = 0,
    vflip: bool = AUG_VFLIP,
) -> AugmentedBatches:
    """Batches of randomly resized crops, flips and colour jitter (see :class:`AugmentedBatches`); the crops
    are wider when ``epochs`` (planned) reach :data:`LONG_TRAINING_EPOCHS`; ``vflip`` when the images have
    no up and down."""
    long = epochs >= LONG_TRAINING_EPOCHS
    height, width = (int(v) for v in spec["image_size"])
    return AugmentedBatches(
        images,
        (height, width),
        torch.tensor([float(v) for v in spec["mean"]]).view(1, 3, 1, 1),
        torch.tensor([float(v) for v in spec["std"]]).view(1, 3, 1, 1),
        max(1, min(batch_size, len(images))),
        torch.Generator().manual_seed(seed),
        scale=AUG_SCALE_LONG if long else AUG_SCALE,
        ratio=AUG_RATIO_LONG if long else AUG_RATIO,
        jitter=AUG_JITTER,
        vflip=vflip,
    )
