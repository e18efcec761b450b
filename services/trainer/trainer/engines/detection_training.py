"""The detection engine's training run: candidate timing, the epoch loop with best-epoch keeping, packaging.

See :mod:`trainer.engines.object_detection` for the whole procedure.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub

import torch  # noqa: E402 - after HF_HUB_OFFLINE

from shared.packages import PackageError, read_manifest, write_manifest  # noqa: E402
from shared.packages.detection import DetectionPredictor, postprocess  # noqa: E402
from trainer.engines.base import TrainContext  # noqa: E402
from trainer.engines.detection_data import DetectionSet, augment, check_normalisation, load_set, to_input  # noqa: E402
from trainer.engines.detection_metrics import MAP_SCORE_THRESHOLD, Truth, detection_metrics  # noqa: E402
from trainer.engines.detection_model import Detector, ExportedDetector, build_targets, describe, detection_loss  # noqa: E402
from trainer.engines.object_detection import (  # noqa: E402
    BATCH_SIZE, MAX_EPOCHS, PAD_VALUE, SCORE_THRESHOLD, SELECTION_EVAL_IMAGES, Candidate, DataError,
    preprocessing_spec,
)

__all__ = ["Run", "Trained", "previous_model"]

ARCHITECTURE = "centernet-ttf-v1"
MODEL_ONNX, MODEL_PT = "model.onnx", "model.pt"
ONNX_OPSET = 17
PRETRAINED_ENV = "EXEML_PRETRAINED_DIR"
THREADS_ENV = "EXEML_TORCH_THREADS"
WARMUP_STEPS = 30


@dataclass
class Trained:
    model: Detector
    candidate: Candidate
    epochs: int
    best_epoch: int
    best_score: dict[str, float]
    seconds: float
    stopped_early: bool
    init: dict[str, Any]


def previous_model(ctx: TrainContext, labels: list[str]) -> dict[str, Any] | None:
    """The ``model.pt`` content of the incremental package when it is a detection model of the same labels."""
    folder = ctx.params.incremental_package_dir
    if folder is None:
        return None
    try:
        manifest = read_manifest(Path(folder))
        state = torch.load(Path(folder) / manifest["artifacts"]["weights"], map_location="cpu", weights_only=True)
    except (PackageError, KeyError, OSError, RuntimeError) as exc:
        ctx.log(f"incremental training: the previous package is unusable ({exc}); training from scratch")
        return None
    if state.get("architecture") != ARCHITECTURE or list(state.get("labels", [])) != list(labels):
        ctx.log("incremental training: the previous model's labels or architecture differ; training from scratch")
        return None
    ctx.log(f"incremental training: warm start from {manifest.get('training_job_id', folder)}")
    return state


def _setup_torch(seed: int) -> torch.device:
    """Seeds torch and picks the device (a GPU when there is one). CPU: one intra-op thread per two cores
    (``EXEML_TORCH_THREADS`` overrides): spinning OpenMP pools collapse on busy shared CPUs."""
    threads = int(os.environ.get(THREADS_ENV) or min(8, max(1, (os.cpu_count() or 1) // 2)))
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _pretrained_file(backbone: str) -> Path | None:
    folder = os.environ.get(PRETRAINED_ENV)
    if not folder:
        return None
    names = [f"{backbone}.safetensors", f"{backbone}.pth", f"{backbone}.pt", f"{backbone}.bin",
             f"{backbone}/model.safetensors", f"{backbone}/pytorch_model.bin"]
    return next((Path(folder) / n for n in names if (Path(folder) / n).is_file()), None)


def _load_backbone(model: Detector, path: Path) -> dict[str, Any]:
    """Loads the tensors of ``path`` that fit the backbone by name and shape (classifier head ignored)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    own = model.backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise DataError(f"pretrained file {path.name} fits no tensor of {model.backbone.__class__.__name__}")
    model.backbone.load_state_dict(usable, strict=False)
    return {"pretrained_file": path.name, "loaded_tensors": len(usable), "backbone_tensors": len(own)}


def _export(model: Detector, path: Path, size: int) -> Path:
    wrapped = ExportedDetector(model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped, (torch.zeros(1, 3, size, size),), str(path), input_names=["images"],
            output_names=["scores", "boxes"], opset_version=ONNX_OPSET, dynamo=False,
            dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}, "boxes": {0: "batch"}},
        )
    return path


class Run:
    def __init__(self, ctx: TrainContext, labels: list[str], previous: dict[str, Any] | None) -> None:
        self.ctx, self.labels, self.previous = ctx, labels, previous
        self.device = _setup_torch(ctx.params.seed)
        self.truths = [_truth(s, labels) for s in ctx.data.eval]

    # -- candidate ----------------------------------------------------------------------------------
    def pick_candidate(self, candidates: list[Candidate]) -> tuple[Candidate, list[dict[str, Any]]]:
        """The first candidate whose exported network answers within ``max_inference_ms`` (CPU, batch 1)."""
        limit = self.ctx.params.max_inference_ms
        if limit is None or self.previous is not None:
            return candidates[0], []
        tried = []
        for candidate in candidates:
            latency = self._latency_ms(Detector(candidate.backbone, len(self.labels), candidate.channels), candidate)
            tried.append({"name": candidate.name, "latency_ms": round(latency, 3), "max_inference_ms": limit,
                          "latency_hardware": "CPU"})
            self.ctx.log(f"candidate {candidate.name}: {latency:.1f} ms per image on CPU (limit {limit} ms)")
            if latency <= limit:
                return candidate, tried
        raise DataError(f"no detection model answers within max_inference_duration={limit} ms on this hardware "
                        f"(fastest: {min(t['latency_ms'] for t in tried)} ms)")

    def _latency_ms(self, model: Detector, candidate: Candidate) -> float:
        """Median time of the package's predictor (pre-processing, network, post-processing) on one image."""
        folder = self.ctx.work_dir / f"latency-{candidate.backbone}-{candidate.image_size}"
        folder.mkdir(parents=True, exist_ok=True)
        _export(model.eval(), folder / MODEL_ONNX, candidate.image_size)
        write_manifest(folder, {"task_type": "object_detection", "labels": self.labels,
                                "artifacts": {"model": MODEL_ONNX},
                                "preprocessing": preprocessing_spec(candidate.image_size)})
        predictor = DetectionPredictor(folder, read_manifest(folder))
        payload = Path(self.ctx.data.eval[0].path).read_bytes()
        return _median_ms(lambda: predictor.predict(payload))

    # -- training -----------------------------------------------------------------------------------
    def fit(self, candidate: Candidate) -> Trained:
        ctx, spec = self.ctx, preprocessing_spec(candidate.image_size)
        assert check_normalisation(spec) < 1e-5
        started = time.monotonic()
        train_set = load_set(ctx.data.train, self.labels, spec, ctx.work_dir / "canvases")
        selection = ctx.data.eval[:SELECTION_EVAL_IMAGES]
        eval_set = load_set(selection, self.labels, spec, ctx.work_dir / "canvases-eval")
        model = Detector(candidate.backbone, len(self.labels), candidate.channels)
        init: dict[str, Any] = {"weights": "random"}
        lr = 2e-3
        if self.previous is not None:
            model.load_state_dict(self.previous["state_dict"])
            init, lr = {"weights": "incremental", "from_job": self.previous.get("training_job_id")}, 1e-3
        elif (path := _pretrained_file(candidate.backbone)) is not None:
            init, lr = {"weights": "pretrained", **_load_backbone(model, path)}, 1e-3
        model.to(self.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        n = len(train_set)
        batch = min(BATCH_SIZE, n)
        steps_per_epoch = math.ceil(n / batch)
        max_epochs = int(ctx.params.extra.get("max_epochs") or MAX_EPOCHS[ctx.params.preference])
        generator = torch.Generator().manual_seed(ctx.params.seed)
        best_state = _state_copy(model)
        best_key: tuple[float, float] = (-1.0, -1.0)
        best_epoch, epoch, step, eval_seconds, stopped = 0, 0, 0, 0.0, False
        train_started = time.monotonic()
        while epoch < max_epochs and not stopped:
            budget = self._train_seconds(train_started, eval_seconds)
            model.train()
            order = torch.randperm(n, generator=generator)
            losses = []
            for b in range(steps_per_epoch):
                progress = max(step / (max_epochs * steps_per_epoch),
                               (time.monotonic() - train_started) / max(budget, 1e-3))
                if ctx.should_stop() or progress >= 1.0:
                    stopped = True  # stop request, deadline, or the time the budget allows is used up
                    break
                cosine = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
                for group in optimizer.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / WARMUP_STEPS) * cosine
                idx = order[b * batch:(b + 1) * batch]
                if len(idx) < 2:  # batch norm needs two images
                    idx = torch.cat([idx, order[:2 - len(idx)]])
                losses.append(self._step(model, optimizer, train_set, idx, spec, generator))
                step += 1
            if not losses or ctx.stop_requested():  # a stop request packages the best epoch at once
                break
            epoch += 1
            t0 = time.monotonic()
            score = self._evaluate(model, eval_set, spec)
            eval_seconds = time.monotonic() - t0
            key = (score["map"], score["map_50"])
            if key > best_key:
                best_key, best_state, best_epoch = key, _state_copy(model), epoch
            elapsed = time.monotonic() - train_started
            ctx.curve("training", epoch=epoch, loss=round(float(np.mean(losses)), 5), map=round(score["map"], 5),
                      map_50=round(score["map_50"], 5), seconds=round(time.monotonic() - started, 2))
            ctx.report(5 + 85 * min(1.0, max(epoch / max_epochs, elapsed / max(budget, 1e-3))), "training",
                       {"epoch": epoch, "map": score["map"], "map_50": score["map_50"], "split": "validation"})
        model.load_state_dict(best_state)
        model.to("cpu").eval()
        ctx.log(f"trained {epoch} epoch(s) in {time.monotonic() - train_started:.1f} s; best epoch {best_epoch} "
                f"(mAP {best_key[0]:.3f}, mAP@0.5 {best_key[1]:.3f})")
        return Trained(model, candidate, epoch, best_epoch, {"map": best_key[0], "map_50": best_key[1]},
                       time.monotonic() - started, stopped, init)

    def _step(self, model: Detector, optimizer: torch.optim.Optimizer, data: DetectionSet, idx: torch.Tensor,
              spec: dict[str, Any], generator: torch.Generator) -> float:
        images, boxes, classes = augment(data.canvases(idx), [data.boxes[i] for i in idx],
                                         [data.classes[i] for i in idx], generator, PAD_VALUE)
        heat, target, weight = build_targets(boxes, classes, len(self.labels), tuple(images.shape[-2:]))
        device = self.device
        logits, pred = model(to_input(images, spec).to(device))
        loss, _ = detection_loss(logits, pred, heat.to(device), target.to(device), weight.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        return float(loss.detach())

    def _train_seconds(self, train_started: float, eval_seconds: float) -> float:
        """Seconds of training the deadline allows from ``train_started``, packaging and evaluation kept aside."""
        ctx = self.ctx
        reserve = ctx.packaging_margin_seconds + 3.0 + 2.0 * eval_seconds * len(ctx.data.eval) / max(
            1, min(len(ctx.data.eval), SELECTION_EVAL_IMAGES))
        return ctx.remaining_seconds() - reserve + (time.monotonic() - train_started)

    def _evaluate(self, model: Detector, data: DetectionSet, spec: dict[str, Any]) -> dict[str, float]:
        """mAP of the torch model on ``data``, with the predictor's post-processing."""
        found = _detect(model, data, spec, self.device)
        from trainer.engines.detection_metrics import mean_average_precision

        result = mean_average_precision(found, self.truths[:len(found)], len(self.labels))
        return {"map": result["map"], "map_50": result["map_50"]}

    # -- package ------------------------------------------------------------------------------------
    def package(self, trained: Trained, spec: dict[str, Any]) -> dict[str, Any]:
        ctx, candidate = self.ctx, trained.candidate
        folder = ctx.package_dir
        folder.mkdir(parents=True, exist_ok=True)
        _export(trained.model, folder / MODEL_ONNX, candidate.image_size)
        torch.save({"architecture": ARCHITECTURE, "backbone": candidate.backbone, "image_size": candidate.image_size,
                    "channels": candidate.channels, "labels": self.labels,
                    "state_dict": _state_copy(trained.model)}, folder / MODEL_PT)
        check = self._check_onnx(trained.model, folder / MODEL_ONNX, spec)
        manifest = {
            "task_type": "object_detection",
            "labels": self.labels,
            "artifacts": {"model": MODEL_ONNX, "weights": MODEL_PT},
            "preprocessing": spec,
            "model": {**describe(trained.model), "name": ARCHITECTURE, "backbone": candidate.backbone,
                      "image_size": candidate.image_size, "neck_channels": candidate.channels,
                      "onnx_check": check, "init": trained.init, "epochs": trained.epochs,
                      "best_epoch": trained.best_epoch, "selection": trained.best_score},
            "metrics": {},
            "parameters": {"preference": ctx.params.preference, "max_inference_ms": ctx.params.max_inference_ms,
                           "incremental": self.previous is not None, "seed": ctx.params.seed},
            "engine": {"name": "object_detection", "candidate": candidate.name, "versions": _versions()},
            "dataset": dict(ctx.data.dataset),
        }
        write_manifest(folder, manifest)
        ctx.report(95, "evaluation")
        predictor = DetectionPredictor(folder, read_manifest(folder))
        payloads = [Path(s.path).read_bytes() for s in ctx.data.eval]
        found = []
        for i in range(0, len(payloads), 16):
            found += predictor.detect_batch(payloads[i:i + 16], score_threshold=MAP_SCORE_THRESHOLD)
        metrics = detection_metrics(found, self.truths, self.labels, SCORE_THRESHOLD)
        latency = _median_ms(lambda: predictor.predict(payloads[0]), budget_seconds=0.5)
        manifest["metrics"] = metrics
        manifest["model"]["latency_ms"] = {"value": round(latency, 3), "hardware": "CPU", "threads": 1}
        write_manifest(folder, manifest)
        return metrics

    def _check_onnx(self, model: Detector, path: Path, spec: dict[str, Any]) -> dict[str, Any]:
        import onnxruntime as ort

        data = load_set(self.ctx.data.eval[:4], self.labels, spec)
        batch = to_input(data.canvases(slice(None)), spec)
        with torch.no_grad():
            expected = [t.numpy() for t in ExportedDetector(model.eval())(batch)]
            heat = torch.sigmoid(model(batch)[0])
            gap = (torch.nn.functional.max_pool2d(heat, 3, stride=1, padding=1) - heat).numpy()
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(["scores", "boxes"], {"images": batch.numpy()})
        (e_scores, e_boxes), (g_scores, g_boxes) = expected, got
        agree = (e_scores > 0) == (g_scores > 0)
        # A cell that is a peak in one runtime only must be a near-tie with a neighbour (rounding decides).
        lonely = ~agree
        diffs = {"scores": float(np.abs(e_scores - g_scores)[agree].max(initial=0.0)),
                 "boxes": float(np.abs(e_boxes - g_boxes).max()),
                 "single_runtime_peak_gap": float(gap[lonely].max(initial=0.0))}
        limits = {"scores": 1e-3, "boxes": 1e-3 * max(1.0, float(np.abs(e_boxes).max())),
                  "single_runtime_peak_gap": 1e-4}
        if any(not math.isfinite(d) or d > limits[k] for k, d in diffs.items()):
            raise RuntimeError(f"the ONNX export differs from torch: {diffs} (limits {limits})")
        return {"images": int(batch.shape[0]), "max_abs_diff": diffs, "single_runtime_peaks": int(lonely.sum()),
                "opset": ONNX_OPSET}


def _detect(model: Detector, data: DetectionSet, spec: dict[str, Any], device: torch.device) -> list[Any]:
    model.eval()
    wrapped = ExportedDetector(model)
    found = []
    with torch.no_grad():
        for i in range(0, len(data), 32):
            scores, boxes = (t.cpu().numpy() for t in wrapped(to_input(data.canvases(slice(i, i + 32)), spec).to(device)))
            for k in range(scores.shape[0]):
                found.append(postprocess(scores[k], boxes[k], data.scales[i + k], data.sizes[i + k], spec,
                                         score_threshold=MAP_SCORE_THRESHOLD))
    return found


def _truth(sample: Any, labels: list[str]) -> Truth:
    index = {label: i for i, label in enumerate(labels)}
    kept = [(index[name], box) for name, box in sample.boxes if name in index]
    return Truth(np.asarray([b for _, b in kept], dtype=np.float64).reshape(-1, 4),
                 np.asarray([c for c, _ in kept], dtype=np.int64))


def _state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _median_ms(run: Any, budget_seconds: float = 1.0, max_runs: int = 20) -> float:
    run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "timm", "onnx", "onnxruntime", "torchmetrics", "pycocotools", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
