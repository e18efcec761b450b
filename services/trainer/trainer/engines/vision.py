"""Helpers the vision engines share: torch set-up, pretrained weights, ONNX export and check, latency.

Pretrained weights come only from a folder the operator fills (``EXEML_PRETRAINED_DIR``), never from a
model hub: for a timm model ``NAME`` the engine looks for ``NAME.safetensors``, ``NAME.pth``, ``NAME.bin``
or ``NAME/model.safetensors`` / ``NAME/pytorch_model.bin`` (the layout of a downloaded hub snapshot).
The classifier head is never loaded from those files (its label set is another one).
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# No code path here may reach a model hub, whatever a library decides to do on its own.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # after HF_HUB_OFFLINE is set

from trainer.engines.base import DataError

__all__ = [
    "EngineError",
    "check_onnx",
    "export_onnx",
    "find_pretrained_file",
    "library_versions",
    "load_pretrained",
    "measure_latency_ms",
    "setup_torch",
    "state_dict_copy",
]

PRETRAINED_ENV = "EXEML_PRETRAINED_DIR"
THREADS_ENV = "EXEML_TORCH_THREADS"
ONNX_OPSET = 17


class EngineError(DataError):
    """The version or the parameters cannot give a model that follows the job's rules (too few images, no
    candidate within the max inference duration, unusable incremental version...): the message says why."""


def setup_torch(seed: int) -> torch.device:
    """Seeds torch, keeps it to a few CPU threads and picks the device.

    Intra-op threads default to half the cores (at most 8; ``EXEML_TORCH_THREADS`` overrides): on a busy
    machine torch's spinning OpenMP threads collapse — measured here on 2 shared cores under load, one
    training step of a tiny CNN took 11 ms with 1 thread and 750 ms with 2.
    """
    threads = int(os.environ.get(THREADS_ENV) or min(8, max(1, (os.cpu_count() or 1) // 2)))
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def state_dict_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def find_pretrained_file(model_name: str, folder: str | Path | None = None) -> Path | None:
    folder = folder if folder is not None else os.environ.get(PRETRAINED_ENV)
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


def export_onnx(model: torch.nn.Module, path: Path, image_size: tuple[int, int]) -> Path:
    """Exports ``model`` (NCHW float input ``images`` → ``logits``) with a dynamic batch axis, one file.

    The TorchScript exporter is used first: for timm CNNs it takes well under a second where the
    ``torch.export``-based one takes 2–10 s on two cores (it runs once per latency-checked candidate).
    The newer exporter (weights inside the file too) is the fall-back should the legacy path fail.
    """
    model = model.eval().to("cpu")
    dummy = torch.zeros(1, 3, *image_size)
    names = {"input_names": ["images"], "output_names": ["logits"], "opset_version": ONNX_OPSET}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
                **names,
            )
        except Exception:  # noqa: BLE001 - any failure of the legacy exporter: try the other one
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamic_shapes=({0: batch},),
                dynamo=True,
                external_data=False,
                verbose=False,
                **names,
            )
    return path


def check_onnx(
    model: torch.nn.Module, path: Path, batch: np.ndarray, tolerance: float = 1e-3
) -> dict[str, Any]:
    """Runs the same batch through torch and onnxruntime; raises :class:`EngineError` when they differ."""
    import onnxruntime as ort

    model = model.eval().to("cpu")
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    limit = tolerance * max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    if not np.isfinite(diff) or diff > limit:
        raise EngineError(f"ONNX export differs from torch by {diff:.3g} (limit {limit:.3g})")
    return {"samples": int(batch.shape[0]), "max_abs_diff": diff, "limit": limit, "opset": ONNX_OPSET}


def measure_latency_ms(run: Callable[[], Any], budget_seconds: float = 1.0, max_runs: int = 20) -> float:
    """Median wall time of ``run()`` in ms after two warm-up calls, within about ``budget_seconds``."""
    run()
    run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def library_versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
