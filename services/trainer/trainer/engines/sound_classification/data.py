"""The sound engine's data: every clip decoded once into arrays, features computed once, in parallel.

Each WAV file is decoded, mixed down, resampled to the spec's rate and turned into its log-mel matrix and
its clip statistics by :mod:`shared.packages.sound` / :mod:`shared.packages.sound_features`, the
predictor's own code, so training sees what serving computes. Clips are prepared by a thread pool (numpy's
FFTs, its matrix products and soundfile release the GIL; the engine holds BLAS to one thread).
"""

from __future__ import annotations

import math
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PredictionInputError
from shared.packages.sound import DEFAULT_SPEC, decode_wav, log_mel, mel_filterbank, resample
from shared.packages.sound_features import clip_statistics, dct_matrix
from trainer.engines.base import DataError, Sample, TrainContext

__all__ = ["ClipSet", "SoundJob", "network_spec", "prepare", "split", "summary"]


@dataclass
class ClipSet:
    """Decoded clips: log-mel matrices (and noisy copies for the network), statistics rows, labels."""

    samples: list[Sample]
    y: np.ndarray  # class indices
    mels: list[np.ndarray]
    noisy_mels: list[np.ndarray] | None  # the log-mel of each clip in white noise (5–25 dB SNR)
    stats: np.ndarray  # [clips, features]
    seconds: list[float]
    rates: list[int]


def network_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The part of the package spec the network depends on (the log-mel and window keys)."""
    return {key: spec[key] for key in DEFAULT_SPEC}


@dataclass
class SoundJob:
    """What every stage of one training job reads: the context, the feature spec, the labels, the model
    families allowed, the prepared clips, the previous network (incremental training) and a scratch folder."""

    ctx: TrainContext
    spec: dict[str, Any]
    labels: list[str]
    families: tuple[str, ...]
    train: ClipSet
    valid: ClipSet
    work: Path
    prepare_seconds: float
    previous: dict[str, Any] | None = None


def split(ctx: TrainContext, labels: list[str]) -> tuple[list[Sample], list[Sample]]:
    """The version's train and eval clips; without eval clips, a stratified ``1 - train_ratio`` share."""

    def usable(samples: list[Sample]) -> list[Sample]:
        return [s for s in samples if s.labels and s.labels[0] in labels and s.path is not None]

    train, valid = usable(ctx.data.train), usable(ctx.data.eval)
    if len(labels) < 2:
        raise DataError(f"sound classification needs at least 2 labels, the version has {len(labels)}")
    if not valid:
        rng = np.random.default_rng(ctx.params.seed)
        keep, hold = [], []
        for label in labels:
            group = [s for s in train if s.labels[0] == label]
            rng.shuffle(group)
            n_hold = round(len(group) * (1 - ctx.params.train_ratio)) if len(group) > 1 else 0
            hold += group[:n_hold]
            keep += group[n_hold:]
        train, valid = keep, hold
    if len(train) < 2 or not valid:
        raise DataError(f"{len(train)} training and {len(valid)} validation clip(s): too few to train")
    return train, valid


def _noisy_log_mel(signal: np.ndarray, spec: dict[str, Any], fb: np.ndarray, rng: np.random.Generator) -> Any:
    power = float(np.mean(signal.astype(np.float64) ** 2)) + 1e-10
    noise = rng.standard_normal(signal.shape[0]) * math.sqrt(power / 10 ** (rng.uniform(5.0, 25.0) / 10))
    return log_mel((signal + noise).astype(np.float32), spec, fb)


def _one(
    sample: Sample, spec: dict[str, Any], fb: np.ndarray, dct: np.ndarray, noisy: np.random.Generator | None
) -> tuple[Any, ...]:
    assert sample.path is not None
    try:
        signal, rate = decode_wav(sample.path.read_bytes())
    except PredictionInputError as exc:
        raise DataError(f"{sample.path.name}: {exc.msg}") from exc
    signal = resample(signal, rate, int(spec["sample_rate"]))
    mel = log_mel(signal, spec, fb)
    stats = clip_statistics(mel, spec["statistics"], dct)
    copy = _noisy_log_mel(signal, spec, fb, noisy) if noisy is not None else None
    return mel, copy, stats, signal.shape[0] / spec["sample_rate"], rate


def prepare(
    samples: list[Sample], labels: list[str], spec: dict[str, Any], noisy_seed: int | None = None
) -> ClipSet:
    """Decodes and featurises ``samples``, with a noisy copy of each log-mel when ``noisy_seed`` is given (the
    network's augmentation); a :class:`DataError` names a file that cannot be read. Signals are not kept."""
    fb = mel_filterbank(spec)
    dct = dct_matrix(int(spec["n_mels"]), int(spec["statistics"]["n_mfcc"]))

    def one(item: tuple[int, Sample]) -> tuple[Any, ...]:
        rng = np.random.default_rng([noisy_seed, item[0]]) if noisy_seed is not None else None
        return _one(item[1], spec, fb, dct, rng)

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        done = list(pool.map(one, enumerate(samples)))
    mels, noisy, stats, seconds, rates = (list(column) for column in zip(*done, strict=True))
    y = np.array([labels.index(s.labels[0]) for s in samples], dtype=np.int64)
    noisy_mels = noisy if noisy_seed is not None else None
    return ClipSet(samples, y, mels, noisy_mels, np.stack(stats).astype(np.float64), seconds, rates)


def summary(job: SoundJob) -> dict[str, Any]:
    """What the plan is made from: counts per class, clip lengths, sample rates, preparation cost."""
    train, valid, labels, elapsed = job.train, job.valid, job.labels, job.prepare_seconds
    seconds = train.seconds + valid.seconds
    rates: dict[str, int] = {}
    for rate in train.rates + valid.rates:
        rates[str(rate)] = rates.get(str(rate), 0) + 1
    return {
        "classes": len(labels),
        "train_per_class": {label: int((train.y == i).sum()) for i, label in enumerate(labels)},
        "valid_per_class": {label: int((valid.y == i).sum()) for i, label in enumerate(labels)},
        "clip_seconds": {
            "min": round(min(seconds), 3),
            "median": round(statistics.median(seconds), 3),
            "max": round(max(seconds), 3),
        },
        "sample_rates": rates,
        "statistics_features": int(train.stats.shape[1]),
        "prepare_seconds": round(elapsed, 3),
        "prepare_ms_per_clip": round(1000 * elapsed / max(1, len(seconds)), 2),
    }
