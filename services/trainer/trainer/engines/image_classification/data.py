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

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from shared.packages import PredictionInputError
from shared.packages.image import decode_image
from trainer.engines.base import EngineError, Sample, TrainContext

__all__ = ["ImageSet", "augmented_loader", "load_image_sets"]

HOLDOUT = 0.2  # share of the training images held out when the version has no validation samples
AUG_SCALE = (0.6, 1.0)  # RandomResizedCrop: share of the image's area kept
AUG_RATIO = (0.85, 1.18)  # and the crop's aspect ratio
# Wider crops for long training (hundreds of epochs of the same few images): measured on the bench's shapes
# from scratch, they cost 0.05 accuracy at ~140 epochs (60 s) and gained 0.04 at ~500 (360 s)
AUG_SCALE_LONG = (0.4, 1.0)
AUG_RATIO_LONG = (3 / 4, 4 / 3)  # torchvision's default
LONG_TRAINING_EPOCHS = 300
AUG_JITTER = 0.2  # brightness, contrast and saturation jitter (no hue shift: colour may be the class)
AUG_VFLIP = False  # vertical flips: off by default (up and down carry meaning in most photographs)


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


class _Augmented(Dataset):
    def __init__(self, images: ImageSet, transform: Any) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images.images[i]), self.images.targets[i]


def augmented_loader(
    images: ImageSet, spec: dict[str, Any], batch_size: int, seed: int, epochs: int = 0
) -> DataLoader:
    """Batches of randomly resized crops, flips and colour jitter (no hue shift: colour may be the class);
    the crops are wider when ``epochs`` (planned) reach :data:`LONG_TRAINING_EPOCHS`."""
    size = tuple(int(v) for v in spec["image_size"])
    long = epochs >= LONG_TRAINING_EPOCHS
    transform = v2.Compose(
        [
            v2.RandomResizedCrop(
                size,
                scale=AUG_SCALE_LONG if long else AUG_SCALE,
                ratio=AUG_RATIO_LONG if long else AUG_RATIO,
                antialias=True,
            ),
            v2.RandomHorizontalFlip(),
            *([v2.RandomVerticalFlip()] if AUG_VFLIP else []),
            v2.ColorJitter(brightness=AUG_JITTER, contrast=AUG_JITTER, saturation=AUG_JITTER),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(spec["mean"]), std=list(spec["std"])),
        ]
    )
    batch_size = max(1, min(batch_size, len(images)))
    return DataLoader(
        _Augmented(images, transform),
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(images) > batch_size,  # a last batch of one breaks batch norm
        generator=torch.Generator().manual_seed(seed),
        num_workers=0,
    )
