"""Pretrained weights come only from a folder the operator fills (``EXEML_PRETRAINED_DIR``), never from a
model hub: for a timm model ``NAME`` the engine looks for ``NAME.safetensors``, ``NAME.pth``, ``NAME.bin``
or ``NAME/model.safetensors`` / ``NAME/pytorch_model.bin`` (the layout of a downloaded hub snapshot).
The classifier head is never loaded from those files (its label set is another one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainer.engines.base import EngineError
from trainer.engines.settings import engine_settings

__all__ = ["find_pretrained_file", "load_pretrained"]


def find_pretrained_file(model_name: str, folder: str | Path | None = None) -> Path | None:
    folder = folder if folder is not None else engine_settings().pretrained_dir
    if not folder:
        return None
    root = Path(folder)
    names = [f"{model_name}.safetensors", f"{model_name}.pth", f"{model_name}.pt", f"{model_name}.bin"]
    names += [f"{model_name}/model.safetensors", f"{model_name}/pytorch_model.bin"]
    return next((root / n for n in names if (root / n).is_file()), None)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise EngineError(f"{path.name} holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_pretrained(model: torch.nn.Module, path: Path, skip_prefixes: tuple[str, ...]) -> dict[str, Any]:
    """Loads the tensors of ``path`` whose name and shape match ``model``, except those under ``skip_prefixes``.

    Returns what happened (file, loaded/skipped counts) for the manifest; raises :class:`EngineError` when
    the file matches nothing of the model's body (wrong architecture).
    """
    state = _read_state_dict(path)
    own = model.state_dict()
    skipped = [k for k in state if k.startswith(skip_prefixes)]
    usable = {
        k: v
        for k, v in state.items()
        if not k.startswith(skip_prefixes) and k in own and own[k].shape == v.shape
    }
    body = [k for k in own if not k.startswith(skip_prefixes)]
    if not usable:
        raise EngineError(
            f"pretrained file {path.name} matches no tensor of the model; is it another architecture?"
        )
    model.load_state_dict(usable, strict=False)
    return {
        "file": path.name,
        "loaded_tensors": len(usable),
        "model_tensors": len(body),
        "skipped_head_tensors": len(skipped),
    }
