"""Torch set-up for a training process: seed, CPU threads, device."""

from __future__ import annotations

import os

import torch

from trainer.engines.settings import engine_settings

__all__ = ["setup_torch", "state_dict_copy", "torch_threads"]


def torch_threads() -> int:
    """Intra-op threads: ``EXEML_TORCH_THREADS``, else half the cores (at most 8).

    On a busy machine torch's spinning OpenMP threads collapse — measured here on 2 shared cores under load,
    one training step of a tiny CNN took 11 ms with 1 thread and 750 ms with 2.
    """
    return engine_settings().torch_threads or min(8, max(1, (os.cpu_count() or 1) // 2))


def setup_torch(seed: int) -> torch.device:
    """Seeds torch, sets its CPU threads (:func:`torch_threads`) and picks the device (a GPU when present)."""
    torch.set_num_threads(torch_threads())
    torch.manual_seed(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def state_dict_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s weights (the best epoch so far)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
