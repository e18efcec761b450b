"""The image models a CPU without pretrained weights can train, and the combinations the engine delivers.

* :class:`ScratchClassifier` — ``scratch<W>``: four conv-BN-ReLU + max-pool blocks, a global average pool
  and a linear head, trained from random weights in seconds to minutes at the images' own (small) size.
* :class:`HandFeatures` + :class:`FeatureClassifier` — the simple floor: colour layout (each channel's mean on
  a 4x4 grid, its global mean and spread) and a histogram of oriented gradients (HOG: 9 unsigned bins on a 4x4
  grid, 2x2 blocks L2-Hys normalised), standardised, into a logistic regression fitted by scikit-learn. It
  needs no training loop and is strong when colour or coarse shape is the class.
* :class:`FlipAverage` — a network's probabilities averaged over the image and its mirror (and, for images
  without an up, their upside-down copies).
* :class:`Ensemble` — the average of the members' class probabilities (its output is their log, so the
  package's softmax gives that average back).

All three take the package's normalised NCHW input and export to ONNX (fixed height and width, dynamic
batch), so whichever the validation split prefers is served by the same predictor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.engines.common.scratch import conv_bn_relu, scratch_width

__all__ = [
    "Ensemble",
    "FeatureClassifier",
    "FlipAverage",
    "HandFeatures",
    "ScratchClassifier",
    "fit_feature_classifier",
    "probabilities",
]

GRID = 4  # cells per side of the colour layout and of the gradient histograms
BINS = 9  # unsigned gradient orientations, 20 degrees apart (Dalal and Triggs' HOG)
HYS_CLIP = 0.2  # L2-Hys: a block's normalised values are clipped here, then normalised again


class ScratchClassifier(nn.Module):
    """Four blocks of 3x3 conv-BN-ReLU and 2x2 max-pooling (widths W/2W/4W/8W, the first convolution at the
    input's full resolution), a global average pool and a linear head."""

    def __init__(self, width: int, num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 3
        for cout in (width, 2 * width, 4 * width, 8 * width):
            blocks += [conv_bn_relu(cin, cout, 3), nn.MaxPool2d(2)]
            cin = cout
        self.backbone = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * width, num_classes))
        self.pretrained_cfg = {"classifier": "head"}  # the tensors an incremental start with new labels drops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean(dim=(2, 3)))


def scratch_classifier(name: str, num_classes: int) -> ScratchClassifier | None:
    """The model a ``scratch<W>`` name stands for; None for any other (a timm name)."""
    width = scratch_width(name)
    return None if width is None else ScratchClassifier(width, num_classes)


class HandFeatures(nn.Module):
    """Colour layout and a histogram of oriented gradients of a normalised image batch at ``size`` x ``size``.

    The colour layout is each channel's mean on a 4x4 grid, its global mean and spread. The gradients are
    HOG's: central differences of the grey image, each pixel's magnitude split between the two nearest of 9
    unsigned orientation bins, summed per cell of a 4x4 grid; each 2x2 block of cells is L2-Hys normalised
    (324 values), so the features do not depend on the image's contrast. Written with operations ONNX has
    (no atan2: the angle to a bin centre comes from the doubled-angle vector and an arccosine).
    """

    kernels: torch.Tensor  # buffers, registered in __init__
    centres: torch.Tensor

    def __init__(self, size: int) -> None:
        super().__init__()
        if size % GRID:
            raise ValueError(f"hand features need an input size divisible by {GRID}, got {size}")
        self.cell = size // GRID
        central = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
        self.register_buffer(
            "kernels", torch.stack([central, central.t()]).unsqueeze(1)
        )  # (2, 1, 3, 3): x, y
        doubled = (torch.arange(BINS) + 0.5) * (2 * torch.pi / BINS)  # twice each bin's centre angle
        self.register_buffer("centres", torch.stack([doubled.cos(), doubled.sin()], dim=1))  # (9, 2)

    @property
    def dimension(self) -> int:
        return 3 * GRID * GRID + 6 + (GRID - 1) ** 2 * 4 * BINS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        layout = F.avg_pool2d(x, self.cell).reshape(n, -1)
        mean = x.mean(dim=(2, 3))
        spread = (x * x).mean(dim=(2, 3)) - mean * mean
        grey = x.mean(dim=1, keepdim=True)
        gradients = F.pad(F.conv2d(grey, self.kernels), (1, 1, 1, 1))  # (n, 2, h, w); none at the border
        gx, gy = gradients[:, 0], gradients[:, 1]
        magnitude = torch.sqrt(gx * gx + gy * gy + 1e-12)
        doubled = torch.stack(
            [(gx * gx - gy * gy) / magnitude, 2 * gx * gy / magnitude], dim=1
        )  # |g|·(cos, sin) 2θ
        cosine = torch.einsum("nchw,bc->nbhw", doubled, self.centres) / magnitude.unsqueeze(1)
        degrees = torch.acos(cosine.clamp(-1.0, 1.0)) * (90.0 / torch.pi)  # the angle to each bin's centre
        votes = magnitude.unsqueeze(1) * F.relu(1 - degrees / (180.0 / BINS))  # (n, 9, h, w)
        cells = F.avg_pool2d(votes, self.cell)  # (n, 9, 4, 4)
        blocks = []
        for i in range(GRID - 1):
            for j in range(GRID - 1):
                block = cells[:, :, i : i + 2, j : j + 2].reshape(n, -1)
                block = (block / torch.sqrt((block * block).sum(dim=1, keepdim=True) + 1e-6)).clamp(
                    max=HYS_CLIP
                )
                blocks.append(block / torch.sqrt((block * block).sum(dim=1, keepdim=True) + 1e-6))
        return torch.cat([layout, mean, spread, *blocks], dim=1)


class FeatureClassifier(nn.Module):
    """:class:`HandFeatures`, standardised, into a linear layer (the logistic regression's weights)."""

    mean: torch.Tensor  # buffers, registered in __init__
    scale: torch.Tensor

    def __init__(self, size: int, num_classes: int) -> None:
        super().__init__()
        self.features = HandFeatures(size)
        dim = self.features.dimension
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((self.features(x) - self.mean) / self.scale)


class FlipAverage(nn.Module):
    """A network's class probabilities averaged over the image and its mirror (test-time augmentation with
    the flips it was trained with) and, when ``vertical``, over both upside down too; its output is their
    log, so the package's softmax gives the average."""

    def __init__(self, network: nn.Module, vertical: bool = False) -> None:
        super().__init__()
        self.network = network
        self.flips: list[list[int]] = [[], [3], [2], [2, 3]] if vertical else [[], [3]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = [x if not dims else torch.flip(x, dims=dims) for dims in self.flips]
        probs = torch.stack([self.network(v).softmax(dim=1) for v in views]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-7))


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(x).softmax(dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-7))


@torch.no_grad()
def probabilities(model: nn.Module, batches: list[torch.Tensor]) -> torch.Tensor:
    model.eval()
    return torch.cat([model(b).softmax(dim=1) for b in batches])


@torch.no_grad()
def fit_feature_classifier(
    size: int, num_classes: int, batches: list[torch.Tensor], targets: np.ndarray, seed: int
) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Fits the logistic regression on the hand features of ``batches`` (normalised training images).

    The regularisation strength C (0.01 to 10) is chosen by 3-fold stratified cross-validation (log loss) on
    the training images when every class has at least 3 of them, else C = 1. Mirrored copies share a fold
    with their original only by chance: the chosen C may be slightly weaker than ideal, never a leak into
    the validation split.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    model = FeatureClassifier(size, num_classes).eval()
    raw = torch.cat([model.features(b) for b in batches]).double()
    mean, scale = raw.mean(dim=0), raw.std(dim=0).clamp_min(1e-6)
    x = ((raw - mean) / scale).numpy()
    present = np.unique(targets)
    if len(present) < 2:
        raise ValueError("the training images hold a single class")
    folds = int(min(3, *(np.sum(targets == c) for c in present)))
    c = 1.0
    if folds >= 3:
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        losses = {
            candidate: cross_val_score(
                LogisticRegression(C=candidate, max_iter=2000), x, targets, cv=split, scoring="neg_log_loss"
            ).mean()
            for candidate in (0.01, 0.1, 1.0, 10.0)
        }
        c = max(losses, key=lambda k: losses[k])
    fitted = LogisticRegression(C=c, max_iter=2000).fit(x, targets)
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64)
    bias = torch.full((num_classes,), -30.0, dtype=torch.float64)  # classes absent from training: never
    coef, intercept = torch.from_numpy(fitted.coef_), torch.from_numpy(fitted.intercept_)
    if len(present) == 2:  # scikit-learn keeps one row for two classes: logit(second) - logit(first)
        coef, intercept = torch.cat([-coef / 2, coef / 2]), torch.cat([-intercept / 2, intercept / 2])
    for row, cls in enumerate(fitted.classes_):
        weight[int(cls)], bias[int(cls)] = coef[row], intercept[row]
    model.mean.copy_(mean.float())
    model.scale.copy_(scale.float())
    model.linear.weight.copy_(weight.float())
    model.linear.bias.copy_(bias.float())
    return model, {"C": c, "features": int(x.shape[1]), "cv_folds": folds if folds >= 3 else 0}
