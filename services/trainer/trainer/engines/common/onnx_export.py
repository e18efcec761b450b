"""ONNX export of a torch module with a dynamic batch axis, and the check that onnxruntime agrees."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.engines.base import EngineError

__all__ = ["ONNX_OPSET", "check_onnx", "export_onnx"]

ONNX_OPSET = 17


def export_onnx(
    model: torch.nn.Module,
    path: Path,
    example: torch.Tensor,
    input_name: str = "images",
    output_names: tuple[str, ...] = ("logits",),
) -> Path:
    """Exports ``model`` (one float input shaped like ``example``) with a dynamic batch axis, into one file.

    The TorchScript exporter is used first: for small CNNs it takes well under a second where the
    ``torch.export``-based one takes 2–10 s on two cores (it runs once per latency-checked candidate).
    The newer exporter (weights inside the file too) is the fall-back should the legacy path fail.
    """
    model = model.eval().to("cpu")
    names: dict[str, Any] = {
        "input_names": [input_name],
        "output_names": list(output_names),
        "opset_version": ONNX_OPSET,
    }
    axes = {name: {0: "batch"} for name in (input_name, *output_names)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (example,), str(path), dynamic_axes=axes, dynamo=False, **names)
        except Exception:  # noqa: BLE001 - any failure of the legacy exporter: try the other one
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                model,
                (example,),
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
    """Runs the same batch through torch and onnxruntime (first output); raises :class:`EngineError` when
    they differ by more than ``tolerance`` relative to the largest output."""
    import onnxruntime as ort

    model = model.eval().to("cpu")
    with torch.no_grad():
        out = model(torch.from_numpy(batch))
    expected = (out[0] if isinstance(out, tuple | list) else out).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    limit = tolerance * max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    if not np.isfinite(diff) or diff > limit:
        raise EngineError(f"ONNX export differs from torch by {diff:.3g} (limit {limit:.3g})")
    return {"samples": int(batch.shape[0]), "max_abs_diff": diff, "limit": limit, "opset": ONNX_OPSET}
