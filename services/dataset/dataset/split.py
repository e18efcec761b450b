"""Random, stratified train/validation split."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

__all__ = ["rarest", "stratified_split"]


def rarest(labels_per_item: Sequence[Sequence[str]]) -> list[str]:
    """The stratum of each item: its rarest label (multi-label samples follow their rarest class)."""
    counts = Counter(name for labels in labels_per_item for name in set(labels))
    return [min(labels, key=lambda n: (counts[n], n)) if labels else "" for labels in labels_per_item]


def stratified_split(strata: Sequence[Hashable], ratio: float, seed: str) -> list[bool]:
    """``True`` = train for each item; every stratum is split by ``ratio`` on its own.

    A stratum of two or more items keeps at least one item on each side when 0 < ratio < 1, so every class
    is both trained on and evaluated.
    """
    rng = random.Random(seed)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, stratum in enumerate(strata):
        groups[stratum].append(index)
    train = [False] * len(strata)
    for key in sorted(groups, key=str):
        members = groups[key]
        rng.shuffle(members)
        n_train = round(len(members) * ratio + 1e-9)
        if 0 < ratio < 1 and len(members) >= 2:
            n_train = min(max(n_train, 1), len(members) - 1)
        for index in members[:n_train]:
            train[index] = True
    return train
