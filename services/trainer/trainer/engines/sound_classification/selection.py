"""Choosing the package: latency of the predictor's parts, every model and ensemble scored on validation,
and the quality report (the package against the majority class and the best statistics model).

An ensemble's probabilities are the mean of its models' (what :class:`shared.packages.sound.SoundPredictor`
answers); its latency is estimated from measured parts (decoding and log-mel once, statistics once, each
model's own step) on a typical clip, and the package's end-to-end latency is measured again once written.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages.sound import DEFAULT_SPEC, features_of_wav, load_model, mel_filterbank, windows
from shared.packages.sound_features import clip_statistics, dct_matrix
from trainer.engines.base import Baseline, DataError, QualityReport, Sample, TrainContext
from trainer.engines.common.latency import measure_latency_ms
from trainer.engines.sound_classification.classical import Fitted, scores
from trainer.engines.sound_classification.data import ClipSet

__all__ = [
    "candidates",
    "default",
    "feature_costs",
    "majority_share",
    "networks_within_latency",
    "quality_report",
    "refuse_impossible_latency",
    "typical_payload",
]


def typical_payload(samples: list[Sample]) -> bytes:
    """The bytes of the median-sized training file: what latency is measured on."""
    paths = sorted((s.path for s in samples if s.path is not None), key=lambda p: p.stat().st_size)
    return paths[len(paths) // 2].read_bytes()


def feature_costs(payload: bytes, spec: dict[str, Any]) -> dict[str, float]:
    """Measured ms of the predictor's shared steps on a typical clip: decode + log-mel, then statistics."""
    fb = mel_filterbank(spec)
    dct = dct_matrix(int(spec["n_mels"]), int(spec["statistics"]["n_mfcc"]))
    mel = features_of_wav(payload, spec, fb)
    return {
        "log_mel": round(measure_latency_ms(lambda: features_of_wav(payload, spec, fb), 0.3), 3),
        "statistics": round(
            measure_latency_ms(lambda: clip_statistics(mel, spec["statistics"], dct), 0.2), 3
        ),
        "windows": int(windows(mel, spec).shape[0]),
    }


def refuse_impossible_latency(ctx: TrainContext, costs: dict[str, float]) -> None:
    limit = ctx.params.max_inference_ms
    if limit is not None and costs["log_mel"] + costs["statistics"] > limit:
        raise DataError(
            f"no sound model answers within max_inference_ms={limit}: decoding and features alone take "
            f"{costs['log_mel'] + costs['statistics']:.1f} ms per typical clip on this CPU"
        )


def networks_within_latency(
    ctx: TrainContext, names: tuple[str, ...], costs: dict[str, float]
) -> tuple[str, ...]:
    """The network widths whose (untrained) ONNX export answers a typical clip within ``max_inference_ms``."""
    from trainer.engines.sound_classification.network import export_untrained

    frames = int(DEFAULT_SPEC["window_frames"]) + int(DEFAULT_SPEC["window_hop_frames"]) * (
        int(costs["windows"]) - 1
    )
    mel = np.zeros((int(DEFAULT_SPEC["n_mels"]), frames), dtype=np.float32)
    kept = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            model = load_model("model", export_untrained(name, DEFAULT_SPEC, Path(tmp)), DEFAULT_SPEC)
            ms = costs["log_mel"] + measure_latency_ms(functools.partial(model.probabilities, mel), 0.3)
        if ms <= float(ctx.params.max_inference_ms or "inf"):
            kept.append(name)
        else:
            ctx.log(
                f"{name}: {ms:.1f} ms per clip > max_inference_ms {ctx.params.max_inference_ms}: not trained"
            )
    return tuple(kept)


def _member_ms(member: Fitted, mel: np.ndarray, stats: np.ndarray, spec: dict[str, Any]) -> float:
    model = load_model(member.role, member.path, spec)
    return measure_latency_ms(lambda: model.probabilities(mel if member.role == "model" else stats), 0.2)


def candidates(
    ctx: TrainContext,
    fitted: list[Fitted],
    valid: ClipSet,
    costs: dict[str, float],
    typical: bytes,
    spec: dict[str, Any],
    tried: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every single model and (unless performance_first) every ensemble of them, scored on validation."""
    mel = features_of_wav(typical, spec)
    stats = clip_statistics(mel, spec["statistics"])[None]
    own_ms = {f.name: _member_ms(f, mel, stats, spec) for f in fitted}
    sizes = [1] if ctx.params.preference == "performance_first" else range(1, len(fitted) + 1)
    found = []
    for members in (list(c) for size in sizes for c in itertools.combinations(fitted, size)):
        accuracy, loss = scores(np.mean([m.valid_probabilities for m in members], axis=0), valid.y)
        ms = costs["log_mel"] + sum(own_ms[m.name] for m in members)
        ms += costs["statistics"] if any(m.role != "model" for m in members) else 0.0
        name = (
            members[0].name if len(members) == 1 else "ensemble(" + " + ".join(m.name for m in members) + ")"
        )
        entry: dict[str, Any] = {
            "name": name,
            "score": round(accuracy, 5),
            "log_loss": round(loss, 5),
            "latency_ms_estimate": round(ms, 3),
            "_members": members,
            "_key": (accuracy, -loss, -len(members)),
        }
        if len(members) == 1:
            entry.update(
                seconds=round(members[0].seconds, 2),
                **{k: v for k, v in members[0].details.items() if k != "onnx_check"},
            )
            if members[0].role == "linear":
                entry["regularisation_tried"] = tried
        if ctx.params.max_inference_ms is not None and ms > ctx.params.max_inference_ms:
            entry["skipped"] = f"latency {ms:.1f} ms > max_inference_ms {ctx.params.max_inference_ms}"
        found.append(entry)
    return found


def majority_share(train: ClipSet, valid: ClipSet) -> float:
    """The trivial baseline: the share of the validation clips in the training clips' commonest class."""
    return float(np.mean(valid.y == int(np.bincount(train.y).argmax())))


def default(usable: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate delivered without a choice on validation: the ensemble of the most models (the first
    such, in the order they were trained: statistics models first)."""
    return max(usable, key=lambda c: len(c["_members"]))


def quality_report(
    metrics: dict[str, Any], fitted: list[Fitted], train: ClipSet, valid: ClipSet, compared: int = 1
) -> QualityReport:
    """The package against the majority class of the training clips and the best statistics model;
    ``compared``: how many validation scores the package was chosen as the best of."""

    def key(fitted_model: Fitted) -> tuple[float, float]:
        accuracy, loss = scores(fitted_model.valid_probabilities, valid.y)
        return accuracy, -loss

    simple = max((f for f in fitted if f.role != "model"), key=key, default=None)
    return QualityReport(
        metric="accuracy",
        higher_is_better=True,
        model=float(metrics["accuracy"]),
        trivial=Baseline("majority class", majority_share(train, valid)),
        simple=Baseline(simple.name, key(simple)[0]) if simple is not None else None,
        compared=compared,
    )
