"""The test of whether images have an up (vertical flips only for those that do not), on generated sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from trainer.engines.image_classification.symmetry import vertical_orientation

SIZE = 48


def _batch(images: list[Image.Image]) -> list[torch.Tensor]:
    pixels = np.stack([np.asarray(i.resize((SIZE, SIZE)), np.float32) / 255 for i in images])
    return [torch.from_numpy((pixels - 0.5) / 0.25).permute(0, 3, 1, 2).contiguous()]


def _noise(rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(rng.integers(60, 140, (SIZE, SIZE, 3)).astype(np.uint8))


def _rotated_shape(rng: np.random.Generator, sides: int) -> Image.Image:
    """A triangle or square turned by any angle at any place: nothing has an up."""
    image = _noise(rng)
    r, cx, cy, turn = rng.uniform(8, 14), rng.uniform(14, 34), rng.uniform(14, 34), rng.uniform(0, 2 * np.pi)
    points = [
        (cx + r * np.cos(turn + 2 * np.pi * k / sides), cy + r * np.sin(turn + 2 * np.pi * k / sides))
        for k in range(sides)
    ]
    ImageDraw.Draw(image).polygon(points, fill=tuple(int(v) for v in rng.integers(150, 255, 3)))
    return image


def _landscape(rng: np.random.Generator, cls: int) -> Image.Image:
    """Sky above, ground below, a disc or a box standing on the horizon: a photograph's up."""
    pixels = np.zeros((SIZE, SIZE, 3), np.float32)
    horizon = int(rng.integers(20, 30))
    pixels[:horizon] = np.array([120, 160, 230]) + rng.normal(0, 15, 3)
    pixels[horizon:] = np.array([80, 140, 60]) + rng.normal(0, 15, 3)
    image = Image.fromarray(np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255).astype(np.uint8))
    x, s = int(rng.integers(4, 30)), int(rng.integers(8, 14))
    draw = ImageDraw.Draw(image)
    (draw.ellipse if cls else draw.rectangle)((x, horizon - s, x + s, horizon), fill=(200, 60, 60))
    return image


def _arrow(rng: np.random.Generator, up: int) -> Image.Image:
    """An arrow head pointing up or down at any place: each class is the other upside down."""
    image = _noise(rng)
    x, y, s = (int(v) for v in (rng.integers(4, 26), rng.integers(4, 26), rng.integers(12, 20)))
    tip, base = (y, y + s) if up else (y + s, y)
    ImageDraw.Draw(image).polygon([(x, base), (x + s, base), (x + s / 2, tip)], fill=(230, 230, 40))
    return image


@pytest.mark.parametrize("count", [40, 200])
def test_turned_shapes_have_no_up_so_vertical_flips_are_on(count: int) -> None:
    rng = np.random.default_rng(count)
    targets = [i % 2 for i in range(count)]
    images = [_rotated_shape(rng, 3 + 1 * t) for t in targets]
    orientation = vertical_orientation(_batch(images), targets, SIZE, seed=1)
    assert not orientation.upright, orientation.describe()
    assert "vertical flips on" in orientation.describe()


@pytest.mark.parametrize("count", [24, 200])
def test_landscapes_have_an_up(count: int) -> None:
    rng = np.random.default_rng(count)
    targets = [i % 2 for i in range(count)]
    orientation = vertical_orientation(_batch([_landscape(rng, t) for t in targets]), targets, SIZE, seed=1)
    assert orientation.upright and orientation.p_all < 0.01, orientation.describe()


def test_classes_that_are_each_other_upside_down_are_caught_within_the_classes() -> None:
    rng = np.random.default_rng(3)
    targets = [i % 2 for i in range(120)]
    orientation = vertical_orientation(_batch([_arrow(rng, t) for t in targets]), targets, SIZE, seed=1)
    # all images together: an arrow upside down is an arrow of the other class, nothing to tell
    assert orientation.p_all > 0.01
    assert orientation.upright and orientation.p_within_classes is not None
    assert orientation.p_within_classes < 0.01
