"""The detector: a small from-scratch CNN (or a timm backbone), an FPN neck to stride 4 and a TTFNet-style
centre-heat-map head.

Architecture (an anchor-free single-stage detector in the CenterNet / TTFNet family — Zhou et al. 2019,
"Objects as Points"; Liu et al. 2020, "Training-Time-Friendly Network for Real-Time Object Detection"):

* backbone: ``scratch<W>`` (:class:`ScratchBackbone`: four stages of two 3x3 conv-BN-ReLU, the first of each
  at stride 2, widths W/2W/4W/8W, features at strides 4, 8 and 16 — what a few hundred images train from
  random weights on a CPU in minutes, at the images' own size), or any timm CNN with ``features_only=True``
  (used when ``EXEML_PRETRAINED_DIR`` holds its weights or a GPU trains it);
* neck: 1x1 lateral convolutions of the stride 4/8/16/32 features, top-down nearest upsampling and sums,
  a 3x3 convolution at stride 4;
* head: per-class centre heat map (sigmoid, focal loss) and, at every cell, the distances from the cell's
  centre to the four sides of the box (softplus x ``box_scale``; GIoU loss at the cells of each object's
  Gaussian, weighted by it — TTFNet's denser regression targets are what make it train fast).

:class:`ExportedDetector` wraps the network for ONNX and serving: ``scores`` (class probabilities at the
3x3 local maxima of the heat map, zero elsewhere — CenterNet's max-pool "NMS") and ``boxes`` (xyxy, model
input pixels). Thresholding, per-class NMS and the letterbox inverse happen in numpy in
:mod:`shared.packages.detection`, the same code for validation and serving.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import generalized_box_iou_loss

from trainer.engines.common.scratch import ScratchBackbone, scratch_width
from trainer.engines.common.scratch import conv_bn_relu as _conv

if TYPE_CHECKING:
    from timm.models import FeatureInfo

__all__ = [
    "STRIDE",
    "Detector",
    "ExportedDetector",
    "ScratchBackbone",
    "build_targets",
    "detection_loss",
    "scratch_width",
]

STRIDE = 4
GAUSSIAN_ALPHA = 0.54  # TTFNet: Gaussian radius as a share of the box size (heat map and regression area)
PEAK_TOLERANCE = 1e-6
PRIOR = 0.01  # initial heat-map probability (focal-loss bias initialisation)


def _output_layer(head: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of a head's last layer (a biased 1x1 convolution)."""
    last = head[-1]
    assert isinstance(last, nn.Conv2d) and last.bias is not None
    return last.weight, last.bias


class Detector(nn.Module):
    def __init__(self, backbone: str, num_classes: int, channels: int = 64, box_scale: float = 16.0) -> None:
        super().__init__()
        width = scratch_width(backbone)
        self.backbone: nn.Module
        if width is not None:
            scratch = ScratchBackbone(width)
            self.backbone = scratch
            reductions, widths = scratch.reductions, scratch.channels
        else:
            import timm

            features = timm.create_model(backbone, pretrained=False, features_only=True)
            self.backbone = features
            # timm types create_model as a plain Module; a features_only network carries its FeatureInfo
            info = cast("FeatureInfo", features.feature_info)
            reductions, widths = info.reduction(), info.channels()
        self.levels = [i for i, r in enumerate(reductions) if r >= STRIDE]
        if not self.levels or reductions[self.levels[0]] != STRIDE:
            raise ValueError(f"backbone {backbone} has no stride-{STRIDE} feature map")
        self.lateral = nn.ModuleList(nn.Conv2d(widths[i], channels, 1) for i in self.levels)
        self.smooth = _conv(channels, channels, 3)
        self.cls_head = nn.Sequential(_conv(channels, channels, 3), nn.Conv2d(channels, num_classes, 1))
        self.box_head = nn.Sequential(_conv(channels, channels, 3), nn.Conv2d(channels, 4, 1))
        _, cls_bias = _output_layer(self.cls_head)
        box_weight, box_bias = _output_layer(self.box_head)
        nn.init.constant_(cls_bias, -math.log((1 - PRIOR) / PRIOR))
        nn.init.normal_(box_weight, std=0.01)
        nn.init.zeros_(box_bias)
        self.num_classes = num_classes
        self.box_scale = box_scale

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heat-map logits (N x C x H x W) and boxes (N x 4 x H x W, xyxy input pixels) at stride 4."""
        features = self.backbone(images)
        laterals = [conv(features[i]) for conv, i in zip(self.lateral, self.levels, strict=True)]
        x = laterals[-1]
        for lateral in reversed(laterals[:-1]):
            x = lateral + F.interpolate(x, size=lateral.shape[-2:], mode="nearest")
        x = self.smooth(x)
        logits = self.cls_head(x)
        distances = F.softplus(self.box_head(x)) * self.box_scale
        return logits, _decode(distances)


def _decode(distances: torch.Tensor) -> torch.Tensor:
    """xyxy boxes of the left/top/right/bottom ``distances`` from each cell's centre."""
    h, w = distances.shape[-2:]
    ys = (torch.arange(h, dtype=distances.dtype, device=distances.device) + 0.5) * STRIDE
    xs = (torch.arange(w, dtype=distances.dtype, device=distances.device) + 0.5) * STRIDE
    cy, cx = ys.view(1, h, 1), xs.view(1, 1, w)
    left, top, right, bottom = distances.unbind(1)
    return torch.stack([cx - left, cy - top, cx + right, cy + bottom], dim=1)


class ExportedDetector(nn.Module):
    """``images`` → ``scores`` (peak class probabilities) and ``boxes``: what the package's ONNX computes."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, boxes = self.detector(images)
        heat = torch.sigmoid(logits)
        peaks = F.max_pool2d(heat, 3, stride=1, padding=1)
        # ">= max - 1e-6" rather than "== max": flat areas (the letterbox padding) hold exact ties that
        # rounding differences between runtimes would otherwise break one way or the other.
        return heat * (heat >= peaks - PEAK_TOLERANCE).to(heat.dtype), boxes


def build_targets(
    boxes: list[torch.Tensor], classes: list[torch.Tensor], num_classes: int, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training targets of a batch at stride 4: heat map (N x C x H x W), box (N x 4 x H x W) and regression
    weight (N x H x W).

    ``boxes[i]`` are the xyxy boxes (input pixels) of image i, ``classes[i]`` their class indices. Larger
    objects are drawn first so that small ones own the cells they share.
    """
    h, w = size[0] // STRIDE, size[1] // STRIDE
    n = len(boxes)
    heat = torch.zeros(n, num_classes, h, w)
    target = torch.zeros(n, 4, h, w)
    weight = torch.zeros(n, h, w)
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)
    for i in range(n):
        if boxes[i].numel() == 0:
            continue
        areas = (boxes[i][:, 2] - boxes[i][:, 0]) * (boxes[i][:, 3] - boxes[i][:, 1])
        for k in torch.argsort(areas, descending=True).tolist():
            x1, y1, x2, y2 = (float(v) for v in boxes[i][k])
            cx = min(max(int((x1 + x2) / 2 / STRIDE), 0), w - 1)
            cy = min(max(int((y1 + y2) / 2 / STRIDE), 0), h - 1)
            sx = max((x2 - x1) / STRIDE * GAUSSIAN_ALPHA / 6, 0.3)
            sy = max((y2 - y1) / STRIDE * GAUSSIAN_ALPHA / 6, 0.3)
            gauss = torch.exp(-((xs - cx) ** 2) / (2 * sx * sx) - ((ys - cy) ** 2) / (2 * sy * sy))
            c = int(classes[i][k])
            heat[i, c] = torch.maximum(heat[i, c], gauss)
            area = gauss > 0.05
            if not area.any():
                continue
            # TTFNet: regression at the Gaussian's cells, weighted by it, each object's weights summing
            # to log(area) so that large objects do not drown small ones.
            g = torch.where(area, gauss, torch.zeros(()))
            g = g / g.sum() * math.log(max((x2 - x1) * (y2 - y1), 2.0))
            target[i, :, area] = torch.tensor([x1, y1, x2, y2]).view(4, 1)
            weight[i][area] = g[area]
    return heat, target, weight


def detection_loss(
    logits: torch.Tensor, boxes: torch.Tensor, heat: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """CenterNet's penalty-reduced focal loss on the heat map + weighted GIoU loss on the boxes."""
    prob = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1).float()
    pos_loss = -(torch.log(prob) * (1 - prob) ** 2 * positive).sum()
    neg_loss = -(torch.log(1 - prob) * prob**2 * (1 - heat) ** 4 * (1 - positive)).sum()
    heat_loss = (pos_loss + neg_loss) / positive.sum().clamp(min=1.0)
    mask = weight > 0
    if mask.any():
        pred = boxes.permute(0, 2, 3, 1)[mask]
        true = target.permute(0, 2, 3, 1)[mask]
        giou = generalized_box_iou_loss(pred, true, reduction="none")
        box_loss = (giou * weight[mask]).sum() / weight[mask].sum().clamp(min=1e-6)
    else:
        box_loss = boxes.sum() * 0.0
    total = heat_loss + 5.0 * box_loss
    return total, {"heat": float(heat_loss.detach()), "box": float(box_loss.detach())}


def describe(detector: Detector) -> dict[str, Any]:
    return {
        "architecture": "centernet-ttf",
        "stride": STRIDE,
        "parameters": sum(p.numel() for p in detector.parameters()),
        "box_scale": detector.box_scale,
    }
