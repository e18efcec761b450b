"""Detection training data: samples letterboxed once into memory, batches with box-aware augmentation.

Every image is decoded and letterboxed with the *predictor's* code
(:func:`shared.packages.detection.letterbox`) so training sees exactly what serving feeds the model; its
boxes are scaled the same way. Augmentation works on whole batches in torch: horizontal flip, random zoom
(0.7–1.3) and shift (±15 %) through one affine resampling, brightness/contrast jitter; boxes follow the same
transform, are clipped to the canvas and dropped when less than a third of them stays visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from shared.packages.detection import decode_image, letterbox
from shared.packages.image import normalize
from trainer.engines.base import Sample

__all__ = ["DetectionSet", "load_set", "read_voc", "voc_samples"]

MEMORY_LIMIT_BYTES = 1 << 30  # canvases kept in memory up to 1 GiB, memory-mapped from disk beyond


@dataclass
class DetectionSet:
    images: Any  # N x 3 x S x S uint8 letterboxed canvases: a torch tensor, or a numpy memmap when large
    boxes: list[torch.Tensor]  # per image: K x 4 float32, xyxy canvas pixels
    classes: list[torch.Tensor]  # per image: K int64 label indices
    scales: list[tuple[float, float]]  # per image: letterbox x/y scale (canvas = original x scale)
    sizes: list[tuple[int, int]]  # per image: original width, height
    samples: list[Sample]

    def __len__(self) -> int:
        return len(self.samples)

    def canvases(self, index: Any) -> torch.Tensor:
        """The uint8 canvases at ``index`` (a slice or an index tensor) as a torch tensor."""
        if isinstance(self.images, torch.Tensor):
            return self.images[index]
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        return torch.from_numpy(np.ascontiguousarray(self.images[index]))


def read_voc(
    xml: bytes,
) -> tuple[tuple[int, int] | None, list[tuple[str, tuple[float, float, float, float]]]]:
    """``(width, height)`` and ``(label, (xmin, ymin, xmax, ymax))`` boxes of a PASCAL VOC annotation."""
    from defusedxml import ElementTree

    root = ElementTree.fromstring(xml)
    size = root.find("size")
    dims = None
    if size is not None and size.findtext("width") and size.findtext("height"):
        dims = (int(float(size.findtext("width"))), int(float(size.findtext("height"))))
    boxes: list[tuple[str, tuple[float, float, float, float]]] = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        xmin, ymin, xmax, ymax = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append((obj.findtext("name", "").strip(), (xmin, ymin, xmax, ymax)))
    return dims, boxes


def voc_samples(folder: Path, files: Mapping[str, bytes]) -> list[Sample]:
    """The images of a PASCAL VOC file set (``<name>.png`` beside ``<name>.xml``, as
    :func:`shared.testing.datagen.detection_files` makes them) written under ``folder``, as samples: what
    the engine's tests and benches train on."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for name in sorted(files):
        if name.endswith(".png"):
            (folder / name).write_bytes(files[name])
            dims, boxes = read_voc(files[name[:-4] + ".xml"])
            width, height = dims if dims is not None else (None, None)
            labels = sorted({label for label, _ in boxes})
            samples.append(Sample(name, labels, folder / name, boxes=boxes, width=width, height=height))
    return samples


def load_set(
    samples: list[Sample], labels: list[str], spec: dict, spill_dir: Path | None = None
) -> DetectionSet:
    """Letterboxed canvases and scaled boxes of ``samples``; boxes of unknown labels are ignored.

    Canvases beyond :data:`MEMORY_LIMIT_BYTES` in all go to a memory-mapped file in ``spill_dir`` (the OS
    page cache keeps what fits) instead of the process's memory.
    """
    index = {label: i for i, label in enumerate(labels)}
    height, width = (int(v) for v in spec["image_size"])
    shape = (len(samples), 3, height, width)
    if spill_dir is not None and int(np.prod(shape)) > MEMORY_LIMIT_BYTES:
        spill_dir.mkdir(parents=True, exist_ok=True)
        images: Any = np.lib.format.open_memmap(
            spill_dir / f"canvases-{len(samples)}-{width}.npy", mode="w+", dtype=np.uint8, shape=shape
        )
    else:
        images = torch.zeros(shape, dtype=torch.uint8)
    boxes, classes, scales, sizes = [], [], [], []
    for i, sample in enumerate(samples):
        assert sample.path is not None
        image = decode_image(Path(sample.path).read_bytes())
        canvas, (sx, sy) = letterbox(image, spec)
        scales.append((sx, sy))
        sizes.append(image.size)
        chw = canvas.transpose(2, 0, 1)
        if isinstance(images, torch.Tensor):
            images[i] = torch.from_numpy(np.ascontiguousarray(chw))
        else:
            images[i] = chw
        kept = [(index[name], box) for name, box in sample.boxes if name in index]
        scale = torch.tensor([sx, sy, sx, sy], dtype=torch.float32)
        boxes.append(torch.tensor([b for _, b in kept], dtype=torch.float32).view(-1, 4) * scale)
        classes.append(torch.tensor([c for c, _ in kept], dtype=torch.int64))
    return DetectionSet(images, boxes, classes, scales, sizes, list(samples))


def to_input(canvases: torch.Tensor, spec: dict) -> torch.Tensor:
    """Normalised float NCHW input of uint8 canvases, the predictor's :func:`normalize` in torch."""
    scale = float(spec.get("scale", 1.0 / 255.0))
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return (canvases.float() * scale - mean) / std


def check_normalisation(spec: dict) -> float:
    """Max difference between :func:`to_input` and the predictor's :func:`normalize` on random pixels."""
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    ours = to_input(torch.from_numpy(pixels).permute(2, 0, 1)[None], spec)[0].numpy()
    return float(np.abs(ours - normalize(pixels, spec)).max())


def augment(
    canvases: torch.Tensor,
    boxes: list[torch.Tensor],
    classes: list[torch.Tensor],
    generator: torch.Generator,
    pad_value: int,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """A randomly flipped, zoomed, shifted and colour-jittered float copy of a uint8 batch, its boxes too."""
    n, _, h, w = canvases.shape
    rand = torch.rand(n, 6, generator=generator)
    flip = rand[:, 0] < 0.5
    zoom = 0.7 + 0.6 * rand[:, 1]  # output = input scaled by zoom
    shift_x = (rand[:, 2] - 0.5) * 0.3 * w
    shift_y = (rand[:, 3] - 0.5) * 0.3 * h
    # Output pixel p comes from input pixel (p - c - shift) / zoom + c (c = canvas centre), flipped first.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -1.0, 1.0) / zoom
    theta[:, 1, 1] = 1.0 / zoom
    theta[:, 0, 2] = -(shift_x / (w / 2)) / zoom * torch.where(flip, -1.0, 1.0)
    theta[:, 1, 2] = -(shift_y / (h / 2)) / zoom
    images = canvases.float() - pad_value
    grid = F.affine_grid(theta, [n, 3, h, w], align_corners=False)
    images = (
        F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + pad_value
    )
    contrast = (0.75 + 0.5 * rand[:, 4]).view(n, 1, 1, 1)
    brightness = ((rand[:, 5] - 0.5) * 40).view(n, 1, 1, 1)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = ((images - mean) * contrast + mean + brightness).clamp(0, 255)
    out_boxes, out_classes = [], []
    for i in range(n):
        b = boxes[i].clone()
        if b.numel():
            if flip[i]:
                b[:, [0, 2]] = w - b[:, [2, 0]]
            cx, cy = w / 2, h / 2
            b[:, [0, 2]] = (b[:, [0, 2]] - cx) * zoom[i] + cx + shift_x[i]
            b[:, [1, 3]] = (b[:, [1, 3]] - cy) * zoom[i] + cy + shift_y[i]
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            b[:, [0, 2]] = b[:, [0, 2]].clamp(0, w)
            b[:, [1, 3]] = b[:, [1, 3]].clamp(0, h)
            visible = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            keep = (visible >= area / 3) & (b[:, 2] - b[:, 0] >= 2) & (b[:, 3] - b[:, 1] >= 2)
            out_boxes.append(b[keep])
            out_classes.append(classes[i][keep])
        else:
            out_boxes.append(b)
            out_classes.append(classes[i])
    return images, out_boxes, out_classes
