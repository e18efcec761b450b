"""The sound engine's data preparation, network, training loop and ONNX export.

Features come from :mod:`shared.packages.sound` (the predictor's own numpy code), so training, validation
and serving see the same log-mel windows. The network is a small VGG-style CNN over ``[1, n_mels, frames]``
windows whose first step normalises each mel band with statistics of the training set (buffers inside the
exported graph). Augmentation: random time shift (random window position, circular shift for short clips),
a noisy copy of each clip (white noise at 5–25 dB SNR), random gain and SpecAugment
time/frequency masks.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shared.packages.sound import log_mel, mel_filterbank, resample, windows

__all__ = [
    "ARCHITECTURES",
    "Clip",
    "SoundCNN",
    "TrainOutcome",
    "check_onnx",
    "evaluate",
    "export_onnx",
    "measure_latency_ms",
    "prepare_clip",
    "set_normalization",
    "train_candidate",
]

ONNX_OPSET = 17
# name -> conv block widths; a block is 3x3 conv + BN + ReLU (twice, except in the first block) + 2x2 max-pool
ARCHITECTURES: dict[str, tuple[int, ...]] = {
    "cnn-small": (16, 32, 64),
    "cnn-medium": (24, 48, 96, 96),
    "cnn-large": (32, 64, 128, 128),
}


@dataclass
class Clip:
    """One clip's log-mel variants (clean first, then noisy copies) and its class index."""

    variants: list[np.ndarray]
    label: int
    seconds: float


def prepare_clip(
    signal: np.ndarray,
    rate: int,
    label: int,
    spec: dict[str, Any],
    rng: np.random.Generator,
    filterbank: np.ndarray,
    noisy_copies: int = 1,
) -> Clip:
    signal = resample(signal, rate, int(spec["sample_rate"]))
    variants = [log_mel(signal, spec, filterbank)]
    power = float(np.mean(signal.astype(np.float64) ** 2)) + 1e-10
    for _ in range(noisy_copies):
        snr_db = rng.uniform(5.0, 25.0)
        noise = rng.standard_normal(signal.shape[0]) * math.sqrt(power / 10 ** (snr_db / 10))
        variants.append(log_mel((signal + noise).astype(np.float32), spec, filterbank))
    return Clip(variants, label, signal.shape[0] / int(spec["sample_rate"]))


class SoundCNN(nn.Module):
    def __init__(self, n_mels: int, num_classes: int, widths: tuple[int, ...], dropout: float = 0.25) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels, 1))
        self.register_buffer("std", torch.ones(n_mels, 1))
        layers: list[nn.Module] = []
        channels = 1
        for index, width in enumerate(widths):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if index:  # the full-resolution first block has one conv: most of the cost, little of the gain
                layers += [
                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
            layers.append(nn.MaxPool2d(2))
            channels = width
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels * (n_mels >> len(widths)), num_classes)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        # [B, C, F', T']: pooled over time only, so the head still knows *where* in frequency a pattern is
        h = self.body(z)
        pooled = torch.cat([h.mean(dim=3).flatten(1), h.amax(dim=3).flatten(1)], dim=1)
        return self.head(self.dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, 1, n_mels, frames] log-mel
        return self.classify(self.normalize(x))


def set_normalization(model: SoundCNN, clips: list[Clip], min_std: float = 0.5) -> None:
    """Per-band mean/std over every variant (clean and noisy) of the training clips.

    The floor keeps a band that is empty in every clean clip (e.g. above 4 kHz when all files are 8 kHz
    recordings) from turning the noise of an augmented copy or of a served file into huge inputs.
    """
    stacked = np.concatenate([v for c in clips for v in c.variants], axis=1)
    model.mean.copy_(torch.from_numpy(stacked.mean(axis=1, keepdims=True)))
    model.std.copy_(torch.from_numpy(np.maximum(stacked.std(axis=1, keepdims=True), min_std)))


def _crop(features: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    total = features.shape[1]
    if total > size:
        start = int(rng.integers(0, total - size + 1))
        return features[:, start : start + size]
    return np.roll(features, int(rng.integers(0, size)), axis=1)[:, :size]


def _spec_augment(z: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    z = z.clone()
    _, _, n_mels, frames = z.shape
    for row in range(z.shape[0]):
        for _ in range(2):
            f = int(rng.integers(0, max(1, n_mels // 8) + 1))
            f0 = int(rng.integers(0, n_mels - f + 1))
            z[row, :, f0 : f0 + f, :] = 0.0
            t = int(rng.integers(0, max(1, frames // 8) + 1))
            t0 = int(rng.integers(0, frames - t + 1))
            z[row, :, :, t0 : t0 + t] = 0.0
    return z


def _batch(
    clips: list[Clip], spec: dict[str, Any], rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    size = int(spec["window_frames"])
    xs = []
    for clip in clips:
        variant = clip.variants[int(rng.integers(0, len(clip.variants)))]
        gain = float(rng.uniform(-1.0, 1.0))  # log-power offset: about x0.6 .. x1.6 amplitude
        xs.append(_crop(variant, size, rng) + gain)
    x = torch.from_numpy(np.stack(xs)[:, None].astype(np.float32))
    return x, torch.tensor([c.label for c in clips], dtype=torch.long)


@torch.no_grad()
def evaluate(
    model: SoundCNN, clips: list[Clip], spec: dict[str, Any], device: torch.device
) -> tuple[float, float, list[int]]:
    """Accuracy, mean log-loss and predictions on clean clips, windows averaged as the predictor does."""
    model.eval()
    predictions, losses = [], []
    for clip in clips:
        batch = torch.from_numpy(windows(clip.variants[0], spec)).to(device)
        probabilities = torch.softmax(model(batch).double(), dim=1).mean(dim=0).cpu().numpy()
        predictions.append(int(probabilities.argmax()))
        losses.append(-math.log(max(float(probabilities[clip.label]), 1e-12)))
    correct = sum(int(p == c.label) for p, c in zip(predictions, clips, strict=True))
    return correct / max(1, len(clips)), statistics.fmean(losses) if losses else 0.0, predictions


@dataclass
class TrainOutcome:
    model: SoundCNN
    accuracy: float
    loss: float
    epochs: int
    best_epoch: int
    seconds: float
    stopped: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def train_candidate(
    model: SoundCNN,
    train: list[Clip],
    valid: list[Clip],
    spec: dict[str, Any],
    *,
    seconds: float,
    should_stop: Callable[[], bool],
    seed: int,
    lr: float = 3e-3,
    max_epochs: int = 80,
    patience: int = 15,
    on_epoch: Callable[[dict[str, Any]], None] = lambda point: None,
) -> TrainOutcome:
    """Trains within ``seconds``; the returned model holds the weights of the best validation epoch."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    torch.set_num_threads(torch_threads())
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs, eta_min=lr / 20)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    batch_size = min(32, max(8, len(train) // 4))
    started = time.monotonic()
    best_state, best_key = copy.deepcopy(model.state_dict()), (-1.0, -math.inf)
    best_epoch, epoch, stopped, history = 0, 0, False, []
    epoch_seconds = 0.0
    accuracy, loss = evaluate(model, valid, spec, device)[:2]
    best_key = (accuracy, -loss)
    while epoch < max_epochs:
        if should_stop() or time.monotonic() - started + epoch_seconds > seconds:
            stopped = should_stop()
            break
        t0 = time.monotonic()
        model.train()
        order = rng.permutation(len(train))
        train_loss, batches = 0.0, 0
        for i in range(0, len(order), batch_size):
            if batches and (should_stop() or time.monotonic() - started > seconds):
                break  # a long epoch on a large dataset ends early: the budget and a stop come first
            chosen = [train[j] for j in order[i : i + batch_size]]
            if len(chosen) < 2:
                continue
            x, y = _batch(chosen, spec, rng)
            x, y = x.to(device), y.to(device)
            logits = model.classify(_spec_augment(model.normalize(x), rng))
            batch_loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
            train_loss, batches = train_loss + float(batch_loss.detach()), batches + 1
        scheduler.step()
        epoch += 1
        accuracy, loss, _ = evaluate(model, valid, spec, device)
        epoch_seconds = time.monotonic() - t0
        point = {
            "epoch": epoch,
            "train_loss": round(train_loss / max(1, batches), 5),
            "val_loss": round(loss, 5),
            "val_accuracy": round(accuracy, 5),
            "seconds": round(epoch_seconds, 3),
        }
        history.append(point)
        on_epoch(point)
        if (accuracy, -loss) > best_key:
            best_key, best_state, best_epoch = (accuracy, -loss), copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return TrainOutcome(
        model, best_key[0], -best_key[1], epoch, best_epoch, time.monotonic() - started, stopped, history
    )


def export_onnx(model: SoundCNN, path: Path, spec: dict[str, Any]) -> Path:
    """``features`` ``[batch, 1, n_mels, window_frames]`` float32 → ``logits``, dynamic batch, one file."""
    model = model.eval().to("cpu")
    dummy = torch.zeros(1, 1, int(spec["n_mels"]), int(spec["window_frames"]))
    names = {
        "input_names": [spec["input_name"]],
        "output_names": [spec["output"]],
        "opset_version": ONNX_OPSET,
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamo=False,
                dynamic_axes={spec["input_name"]: {0: "batch"}, spec["output"]: {0: "batch"}},
                **names,
            )
        except Exception:  # noqa: BLE001 - the legacy exporter failed: the torch.export one
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamo=True,
                dynamic_shapes=({0: batch},),
                external_data=False,
                verbose=False,
                **names,
            )
    return path


def check_onnx(model: SoundCNN, path: Path, batch: np.ndarray, tolerance: float = 1e-3) -> dict[str, Any]:
    """Runs one batch through torch and onnxruntime; raises ValueError when the logits differ."""
    import onnxruntime as ort

    with torch.no_grad():
        expected = model.eval().to("cpu")(torch.from_numpy(batch)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    diff = float(np.max(np.abs(expected - got)))
    if not diff <= tolerance:
        raise ValueError(f"ONNX export differs from the torch model by {diff} (> {tolerance})")
    return {"max_abs_diff": diff, "windows": int(batch.shape[0])}


def measure_latency_ms(run: Callable[[], Any], budget_seconds: float = 1.0, max_runs: int = 20) -> float:
    """Median wall time of ``run()`` in ms after a warm-up call, within about ``budget_seconds``."""
    run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def torch_threads() -> int:
    """``EXEML_TORCH_THREADS``, else half the cores: on a shared CPU, more threads than free cores spin
    (here 1 thread trained a batch in 0.21 s, 2 threads in 0.56 s on two busy cores)."""
    return int(os.environ.get("EXEML_TORCH_THREADS") or max(1, (os.cpu_count() or 2) // 2))


def filterbank_for(spec: dict[str, Any]) -> np.ndarray:
    return mel_filterbank(spec)
