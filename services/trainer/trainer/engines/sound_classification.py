"""Sound classification engine: log-mel CNN portfolio with augmentation, ONNX package.

Every WAV file (16-bit PCM, any rate, any channel count) is mixed down, resampled to 16 kHz and turned into
log-mel features by :mod:`shared.packages.sound` — the predictor's own numpy code. The portfolio
(:data:`PORTFOLIO`, by preference) holds small CNNs over one-second windows; candidates whose end-to-end
predictor latency on a typical clip exceeds ``max_inference_ms`` are dropped before training. Each candidate
trains within its share of the budget, keeping its best validation epoch; the best candidate on validation
is exported to ONNX (checked against torch), packaged with ``model.pt`` for incremental training, and
evaluated through the package's predictor, so the reported metrics are what serving gives.

Incremental training: when ``incremental_package_dir`` holds a sound package with the same feature spec, its
architecture is the only candidate and its weights are the starting point (the classifier head too when the
labels are the same; otherwise only the layers whose shapes fit).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from shared.packages import PredictionInputError, load_predictor, read_manifest, write_manifest
from shared.packages.sound import DEFAULT_SPEC, SoundPredictor, decode_wav, windows
from trainer.engines.base import DataError, EngineResult, Sample, TrainContext
from trainer.engines.sound_model import (
    ARCHITECTURES,
    Clip,
    SoundCNN,
    check_onnx,
    export_onnx,
    filterbank_for,
    measure_latency_ms,
    prepare_clip,
    set_normalization,
    train_candidate,
)
from trainer.metrics import classification_metrics

__all__ = ["PORTFOLIO", "SoundClassificationEngine"]

PORTFOLIO: dict[str, tuple[str, ...]] = {
    "performance_first": ("cnn-small",),
    "balance": ("cnn-small", "cnn-medium"),
    "accuracy_first": ("cnn-medium", "cnn-large"),
}
MIN_CANDIDATE_SECONDS = 20.0  # a share of the budget below this goes to the candidates before it instead


class SoundClassificationEngine:
    name: ClassVar[str] = "sound_classification"
    task_types: ClassVar[tuple[str, ...]] = ("sound_classification",)

    def train(self, ctx: TrainContext) -> EngineResult:
        ctx.report(1, "preparing data")
        spec = dict(DEFAULT_SPEC)
        labels = list(ctx.data.labels) or sorted({s.labels[0] for s in ctx.data.train if s.labels})
        train_samples, valid_samples = _split(ctx, labels)
        rng = np.random.default_rng(ctx.params.seed)
        filterbank = filterbank_for(spec)
        train = [_clip(s, labels, spec, rng, filterbank, noisy=1) for s in train_samples]
        valid = [_clip(s, labels, spec, rng, filterbank, noisy=0) for s in valid_samples]
        ctx.log(f"sound: {len(train)} training and {len(valid)} validation clips, {len(labels)} classes")
        previous = _previous(ctx, spec, labels)
        names = (previous["candidate"],) if previous else PORTFOLIO[ctx.params.preference]
        typical = _typical_payload(train_samples)

        candidates: list[dict[str, Any]] = []
        probe_started = time.monotonic()
        for name in names:
            latency = _latency(name, labels, spec, typical)
            entry = {"name": name, "latency_ms": round(latency, 3)}
            if ctx.params.max_inference_ms is not None and latency > ctx.params.max_inference_ms:
                entry["skipped"] = (
                    f"latency {latency:.1f} ms > max_inference_ms {ctx.params.max_inference_ms}"
                )
                ctx.log(f"{name}: {entry['skipped']}")
            candidates.append(entry)
        probe_seconds = (time.monotonic() - probe_started) / len(names)
        # export + ONNX check + evaluation through the predictor: beyond the margin, keep what it will take
        packaging = 2 * probe_seconds + 1.5 * len(valid) * max(c["latency_ms"] for c in candidates) / 1000
        reserve = max(0.0, packaging - ctx.packaging_margin_seconds)
        runnable = [c for c in candidates if "skipped" not in c]
        if not runnable:
            raise DataError(
                f"no sound model answers within max_inference_ms={ctx.params.max_inference_ms} "
                f"(fastest: {min(c['latency_ms'] for c in candidates)} ms on CPU)"
            )

        best: tuple[tuple[float, float], Any, dict[str, Any]] | None = None
        stopped = False
        for index, entry in enumerate(runnable):
            if best is not None and ctx.should_stop():
                stopped = True
                break
            left = ctx.remaining_seconds() - ctx.packaging_margin_seconds - reserve
            if best is not None and left < MIN_CANDIDATE_SECONDS:
                entry["skipped"] = f"{max(0.0, left):.0f} s of budget left"
                continue
            seconds = left / (len(runnable) - index)
            if seconds < MIN_CANDIDATE_SECONDS:  # too short to share: this candidate gets all of it
                seconds = left
            model = SoundCNN(int(spec["n_mels"]), len(labels), ARCHITECTURES[entry["name"]])
            set_normalization(model, train)
            lr = 3e-3
            if previous:
                _warm_start(model, previous["state_dict"])
                lr = 1e-3

            def on_epoch(point: dict[str, Any], name: str = entry["name"], i: int = index) -> None:
                ctx.curve("training", candidate=name, **point)
                share = (i + min(1.0, point["epoch"] / 80)) / len(runnable)
                ctx.report(5 + 80 * share, f"training {name}", {"val_accuracy": point["val_accuracy"]})

            outcome = train_candidate(
                model,
                train,
                valid,
                spec,
                seconds=max(0.0, seconds),
                should_stop=ctx.should_stop,
                seed=ctx.params.seed + index,
                lr=lr,
                on_epoch=on_epoch,
            )
            stopped = stopped or outcome.stopped
            entry.update(
                score=round(outcome.accuracy, 5),
                val_loss=round(outcome.loss, 5),
                epochs=outcome.epochs,
                best_epoch=outcome.best_epoch,
                seconds=round(outcome.seconds, 2),
            )
            ctx.log(
                f"{entry['name']}: val accuracy {outcome.accuracy:.4f} (epoch {outcome.best_epoch}/"
                f"{outcome.epochs}, {outcome.seconds:.1f} s)"
            )
            key = (outcome.accuracy, -outcome.loss)
            if best is None or key > best[0]:
                best = (key, outcome.model, entry)
        assert best is not None
        _, model, chosen = best

        ctx.report(90, "packaging")
        metrics = self._package(ctx, model, chosen, labels, spec, valid, valid_samples, previous is not None)
        return EngineResult(
            engine=self.name,
            candidate=chosen["name"],
            metrics=metrics,
            candidates=candidates,
            stopped_early=stopped or ctx.stop_requested(),
        )

    def _package(
        self,
        ctx: TrainContext,
        model: SoundCNN,
        chosen: dict[str, Any],
        labels: list[str],
        spec: dict[str, Any],
        valid: list[Clip],
        valid_samples: list[Sample],
        incremental: bool,
    ) -> dict[str, Any]:
        folder = ctx.package_dir
        folder.mkdir(parents=True, exist_ok=True)
        export_onnx(model, folder / "model.onnx", spec)
        onnx_check = check_onnx(
            model, folder / "model.onnx", np.concatenate([windows(c.variants[0], spec) for c in valid[:8]])
        )
        torch.save(
            {
                "candidate": chosen["name"],
                "widths": ARCHITECTURES[chosen["name"]],
                "labels": labels,
                "spec": spec,
                "state_dict": model.state_dict(),
            },
            folder / "model.pt",
        )
        manifest = _manifest(self.name, chosen, labels, spec, ctx, incremental)
        write_manifest(folder, manifest)
        predictor = load_predictor(folder)
        assert isinstance(predictor, SoundPredictor)
        predictions = [predictor.predict(s.path.read_bytes())["predicted_label"] for s in valid_samples]
        metrics = classification_metrics([s.labels[0] for s in valid_samples], predictions, labels)
        metrics.update(
            latency_ms=chosen["latency_ms"],
            latency_hardware="CPU",
            onnx_check=onnx_check,
            max_inference_ms=ctx.params.max_inference_ms,
        )
        manifest["metrics"] = metrics
        write_manifest(folder, manifest)
        return metrics


def _manifest(
    engine: str,
    chosen: dict[str, Any],
    labels: list[str],
    spec: dict[str, Any],
    ctx: TrainContext,
    incremental: bool,
) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "task_type": "sound_classification",
        "labels": labels,
        "artifacts": {"model": "model.onnx", "weights": "model.pt"},
        "preprocessing": spec,
        "metrics": {},
        "parameters": {
            "preference": ctx.params.preference,
            "architecture": chosen["name"],
            "widths": list(ARCHITECTURES[chosen["name"]]),
            "epochs": chosen.get("epochs"),
            "best_epoch": chosen.get("best_epoch"),
            "incremental": incremental,
        },
        "engine": {
            "name": engine,
            "candidate": chosen["name"],
            "versions": {k: version(k) for k in ("torch", "onnx", "onnxruntime", "numpy", "soundfile")},
        },
        "dataset": dict(ctx.data.dataset),
    }


def _split(ctx: TrainContext, labels: list[str]) -> tuple[list[Sample], list[Sample]]:
    def usable(samples: list[Sample]) -> list[Sample]:
        return [s for s in samples if s.labels and s.labels[0] in labels and s.path is not None]

    train, valid = usable(ctx.data.train), usable(ctx.data.eval)
    if len(labels) < 2:
        raise DataError(f"sound classification needs at least 2 labels, the version has {len(labels)}")
    if not valid:  # no split in the version: hold out a stratified share of the training clips
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


def _clip(
    sample: Sample,
    labels: list[str],
    spec: dict[str, Any],
    rng: np.random.Generator,
    filterbank: np.ndarray,
    noisy: int,
) -> Clip:
    assert sample.path is not None
    try:
        signal, rate = decode_wav(sample.path.read_bytes())
    except PredictionInputError as exc:
        raise DataError(f"{sample.path.name}: {exc.msg}") from exc
    return prepare_clip(signal, rate, labels.index(sample.labels[0]), spec, rng, filterbank, noisy)


def _typical_payload(samples: list[Sample]) -> bytes:
    """The bytes of the median-sized training file: what latency is measured on."""
    paths = sorted((s.path for s in samples if s.path is not None), key=lambda p: p.stat().st_size)
    return paths[len(paths) // 2].read_bytes()


def _latency(name: str, labels: list[str], spec: dict[str, Any], payload: bytes) -> float:
    """End-to-end predictor latency (decode, features, ONNX) of an untrained ``name`` network, in ms."""
    model = SoundCNN(int(spec["n_mels"]), len(labels), ARCHITECTURES[name]).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export_onnx(model, folder / "model.onnx", spec)
        write_manifest(
            folder,
            {
                "task_type": "sound_classification",
                "labels": labels,
                "artifacts": {"model": "model.onnx"},
                "preprocessing": spec,
            },
        )
        predictor = load_predictor(folder)
        return measure_latency_ms(lambda: predictor.predict(payload), budget_seconds=0.5)


def _previous(ctx: TrainContext, spec: dict[str, Any], labels: list[str]) -> dict[str, Any] | None:
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    manifest = read_manifest(folder)
    weights = Path(folder) / manifest["artifacts"].get("weights", "model.pt")
    if manifest.get("task_type") != "sound_classification" or not weights.is_file():
        ctx.log(
            "incremental training: the previous package has no sound model weights, training from scratch"
        )
        return None
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    if checkpoint.get("spec") != spec or checkpoint.get("candidate") not in ARCHITECTURES:
        ctx.log("incremental training: the previous model's features differ, training from scratch")
        return None
    same = checkpoint.get("labels") == labels
    ctx.log(f"incremental training from {checkpoint['candidate']} ({'same' if same else 'different'} labels)")
    return checkpoint


def _warm_start(model: SoundCNN, state: dict[str, torch.Tensor]) -> None:
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
