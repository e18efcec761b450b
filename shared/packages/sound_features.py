"""Clip statistics of a log-mel matrix: the features of the sound packages' classical models (numpy only).

The trainer computes its features with these functions and the predictor (in Triton's python backend: numpy,
no scipy) with the same ones, so serving reproduces training. ``spec`` is the package's
``manifest["preprocessing"]["statistics"]`` (:data:`STATS_SPEC` shows every key).

The log-mel is first floored at the clip's peak minus ``top_db`` (so silence scales with the gain too). The
word is found next: the frames whose energy rises above the midpoint between the clip's noise floor
and its loud frames, from the first to the last (a clip's leading and trailing silence moves nothing).
Over that span, per MFCC coefficient: mean, standard deviation, 10th/90th percentiles, mean and standard
deviation of the deltas, and the means of ``segments`` equal parts in time (which say in what *order*
sounds come: the whole-clip statistics cannot); then the span's length and the mean and spread of the shift
of the low-band spectrum along the mel axis over ``shift_lag`` frames (a rising or falling pitch or formant).
The energy coefficient is taken relative to the span's mean, so the clip's gain moves nothing either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["STATS_SPEC", "active_span", "clip_statistics", "dct_matrix", "feature_names", "mel_shift"]

STATS_SPEC: dict[str, Any] = {
    "n_mfcc": 20,
    "segments": 4,
    "percentiles": [10, 90],
    "delta_width": 2,
    "top_db": 60.0,  # log-mel floored at the clip's peak minus this: digital silence moves with the gain too
    "shift_bands": 24,  # the lowest mel bands (below ~1 kHz at 64 bands to 8 kHz): resolved harmonics
    "max_shift": 3,
    "shift_lag": 5,  # frames between the compared spectra (a pitch glide moves well under a band per frame)
}


MIN_RANGE = 1.0  # energy range (natural log, ~4.3 dB) below which a clip has no quiet part to cut off


def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """``[n_mfcc, n_mels]`` orthonormal DCT-II (what ``scipy.fft.dct(type=2, norm="ortho")`` applies)."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    matrix: np.ndarray = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def active_span(log_mel: np.ndarray, smooth: int = 5) -> tuple[int, int]:
    """``(first, last + 1)`` frames of the loud part: smoothed energy above the floor/peak midpoint (all
    frames when the energy hardly varies)."""
    energy = np.log(np.exp(log_mel.astype(np.float64)).sum(axis=0) + 1e-12)
    if energy.shape[0] >= smooth:
        energy = np.convolve(energy, np.ones(smooth) / smooth, mode="same")
    floor, peak = np.percentile(energy, 10), np.percentile(energy, 95)
    if peak - floor < MIN_RANGE:  # a steady sound (no silence around it): all of it
        return 0, log_mel.shape[1]
    loud = np.flatnonzero(energy >= (floor + peak) / 2)
    first, last = int(loud[0]), int(loud[-1]) + 1
    if last - first < 3:  # too short to hold statistics: widen around it
        first, last = max(0, first - 2), min(log_mel.shape[1], last + 2)
    return first, last


def _deltas(x: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas over frames (edge frames repeated), as in HTK/librosa-style MFCC deltas."""
    padded = np.pad(x, ((0, 0), (width, width)), mode="edge")
    frames = x.shape[1]
    weights = np.arange(1, width + 1, dtype=np.float64)
    out: np.ndarray = sum(
        w * (padded[:, width + i : width + i + frames] - padded[:, width - i : width - i + frames])
        for i, w in enumerate(weights, start=1)
    )
    return (out / (2 * float(np.sum(weights**2)))).astype(np.float32)


def mel_shift(log_mel: np.ndarray, bands: int, max_shift: int, lag: int) -> np.ndarray:
    """Per frame, the shift in mel bands (±``max_shift``, refined between bands by a parabola through the
    best score and its neighbours) that best aligns the low-band spectrum with the one ``lag`` frames later."""
    low = log_mel[:bands].astype(np.float64)
    low = low - low.mean(axis=0, keepdims=True)
    if low.shape[1] <= lag:
        return np.zeros(1)
    before, after = low[:, :-lag], low[:, lag:]
    scores = []
    for shift in range(-max_shift, max_shift + 1):
        a = before[max(0, -shift) : bands - max(0, shift)]
        b = after[max(0, shift) : bands - max(0, -shift)]
        scores.append((a * b).mean(axis=0))
    table = np.stack(scores)  # [shifts, frames]
    best = np.argmax(table, axis=0)
    inner = np.clip(best, 1, 2 * max_shift - 1)  # a peak at the edge is not refined
    columns = np.arange(table.shape[1])
    left, centre, right = table[inner - 1, columns], table[inner, columns], table[inner + 1, columns]
    curvature = left - 2 * centre + right
    refine = (best == inner) & (curvature < 0)
    offset = np.where(refine, 0.5 * (left - right) / np.where(refine, curvature, -1.0), 0.0)
    shifts: np.ndarray = best - max_shift + np.clip(offset, -0.5, 0.5)
    return shifts


def clip_statistics(log_mel: np.ndarray, spec: dict[str, Any], dct: np.ndarray | None = None) -> np.ndarray:
    """The ``float32`` feature vector of one clip's ``[n_mels, frames]`` log-mel matrix (see module doc)."""
    n_mfcc = int(spec["n_mfcc"])
    dct = dct_matrix(log_mel.shape[0], n_mfcc) if dct is None else dct
    log_mel = np.maximum(log_mel, log_mel.max() - float(spec["top_db"]) * np.log(10) / 10)
    first, last = active_span(log_mel)
    span = log_mel[:, first:last]
    mfcc = (dct @ span).astype(np.float64)
    mfcc[0] -= mfcc[0].mean()  # gain-free energy
    deltas = _deltas(mfcc, int(spec["delta_width"]))
    parts = [mfcc.mean(axis=1)[1:], mfcc.std(axis=1), deltas.mean(axis=1), deltas.std(axis=1)]
    parts += list(np.percentile(mfcc, spec["percentiles"], axis=1))
    segments = int(spec["segments"])
    timed = np.repeat(mfcc, segments, axis=1) if mfcc.shape[1] < segments else mfcc
    parts += [segment.mean(axis=1) for segment in np.array_split(timed, segments, axis=1)]
    shift = mel_shift(span, int(spec["shift_bands"]), int(spec["max_shift"]), int(spec["shift_lag"]))
    parts.append(np.array([np.log(last - first), shift.mean(), shift.std()]))
    return np.concatenate(parts).astype(np.float32)


def feature_names(spec: dict[str, Any]) -> list[str]:
    """The name of each entry of :func:`clip_statistics`' vector."""
    n = int(spec["n_mfcc"])
    names = [f"mfcc{i}_mean" for i in range(1, n)]
    names += [f"mfcc{i}_{stat}" for stat in ("std", "delta_mean", "delta_std") for i in range(n)]
    names += [f"mfcc{i}_p{p}" for p in spec["percentiles"] for i in range(n)]
    names += [f"mfcc{i}_seg{s}" for s in range(int(spec["segments"])) for i in range(n)]
    return [*names, "log_frames", "shift_mean", "shift_std"]
