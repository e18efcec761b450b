"""A small CNN trained from random weights: what a few hundred images train on a CPU in minutes.

``scratch<W>`` names it (W the first stage's width): a stem to stride 2, then stages to strides 4, 8 and 16,
two 3x3 conv-BN-ReLU each (the first strided), widths W/2W/4W/8W. The detection engine reads its features at
strides 4/8/16 (FPN neck); the image classification engine pools the last one (global average) into a
linear classifier.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SCRATCH_PREFIX", "ScratchBackbone", "conv_bn_relu", "scratch_width"]


def conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


SCRATCH_PREFIX = "scratch"


def scratch_width(backbone: str) -> int | None:
    """W of a ``scratch<W>`` backbone name, None for a timm name."""
    rest = backbone[len(SCRATCH_PREFIX) :] if backbone.startswith(SCRATCH_PREFIX) else ""
    return int(rest) if rest.isdigit() else None


class ScratchBackbone(nn.Module):
    """Stem to stride 2, then stages to strides 4, 8 and 16: two 3x3 conv-BN-ReLU each (the first strided)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        stages, cin = [], 3
        for cout in widths:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                    conv_bn_relu(cout, cout, 3),
                )
            )
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.reductions = [2, 4, 8, 16]
        self.channels = widths

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out
