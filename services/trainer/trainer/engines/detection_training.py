"""The detection engine's training run: candidate timing, the epoch loop with best-epoch keeping, packaging.

See :mod:`trainer.engines.object_detection` for the whole procedure.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from trainer.engines.base import TrainContext
from trainer.engines.detection_data import (
    DetectionSet,
    augment,
    check_normalisation,
    load_set,
    to_input,
)
from trainer.engines.detection_metrics import MAP_SCORE_THRESHOLD, Truth
from trainer.engines.detection_model import Detector, ExportedDetector, build_targets, detection_loss
from trainer.engines.detection_package import (
    MODEL_ONNX,
    export_onnx,
    load_backbone,
    median_ms,
    pretrained_file,
    state_copy,
    write_package,
)
from trainer.engines.object_detection import (
    BATCH_SIZE,
    MAX_EPOCHS,
    PAD_VALUE,
    SELECTION_EVAL_IMAGES,
    Candidate,
    DataError,
    preprocessing_spec,
)

from shared.packages import read_manifest, write_manifest
from shared.packages.detection import DetectionPredictor, postprocess

__all__ = ["Run", "Trained"]

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


def _setup_torch(seed: int) -> torch.device:
    """Seeds torch and picks the device (a GPU when there is one). CPU: one intra-op thread per two cores
    (``EXEML_TORCH_THREADS`` overrides): spinning OpenMP pools collapse on busy shared CPUs."""
    threads = int(os.environ.get(THREADS_ENV) or min(8, max(1, (os.cpu_count() or 1) // 2)))
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
            latency = self._latency_ms(
                Detector(candidate.backbone, len(self.labels), candidate.channels), candidate
            )
            tried.append(
                {
                    "name": candidate.name,
                    "latency_ms": round(latency, 3),
                    "max_inference_ms": limit,
                    "latency_hardware": "CPU",
                }
            )
            self.ctx.log(f"candidate {candidate.name}: {latency:.1f} ms per image on CPU (limit {limit} ms)")
            if latency <= limit:
                return candidate, tried
        raise DataError(
            f"no detection model answers within max_inference_duration={limit} ms on this hardware "
            f"(fastest: {min(t['latency_ms'] for t in tried)} ms)"
        )

    def _latency_ms(self, model: Detector, candidate: Candidate) -> float:
        """Median time of the package's predictor (pre-processing, network, post-processing) on one image."""
        folder = self.ctx.work_dir / f"latency-{candidate.backbone}-{candidate.image_size}"
        folder.mkdir(parents=True, exist_ok=True)
        export_onnx(model.eval(), folder / MODEL_ONNX, candidate.image_size)
        write_manifest(
            folder,
            {
                "task_type": "object_detection",
                "labels": self.labels,
                "artifacts": {"model": MODEL_ONNX},
                "preprocessing": preprocessing_spec(candidate.image_size),
            },
        )
        predictor = DetectionPredictor(folder, read_manifest(folder))
        payload = Path(self.ctx.data.eval[0].path).read_bytes()
        return median_ms(lambda: predictor.predict(payload))

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
        elif (path := pretrained_file(candidate.backbone)) is not None:
            init, lr = {"weights": "pretrained", **load_backbone(model, path)}, 1e-3
        model.to(self.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        n = len(train_set)
        batch = min(BATCH_SIZE, n)
        steps_per_epoch = math.ceil(n / batch)
        max_epochs = int(ctx.params.extra.get("max_epochs") or MAX_EPOCHS[ctx.params.preference])
        generator = torch.Generator().manual_seed(ctx.params.seed)
        best_state = state_copy(model)
        best_key: tuple[float, float] = (-1.0, -1.0)
        best_epoch, epoch, step, eval_seconds, stopped = 0, 0, 0, 0.0, False
        train_started = time.monotonic()
        while epoch < max_epochs and not stopped:
            budget = self._train_seconds(train_started, eval_seconds)
            model.train()
            order = torch.randperm(n, generator=generator)
            losses = []
            for b in range(steps_per_epoch):
                progress = max(
                    step / (max_epochs * steps_per_epoch),
                    (time.monotonic() - train_started) / max(budget, 1e-3),
                )
                if ctx.should_stop() or progress >= 1.0:
                    stopped = True  # stop request, deadline, or the time the budget allows is used up
                    break
                cosine = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))
                for group in optimizer.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / WARMUP_STEPS) * cosine
                idx = order[b * batch : (b + 1) * batch]
                if len(idx) < 2:  # batch norm needs two images
                    idx = torch.cat([idx, order[: 2 - len(idx)]])
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
                best_key, best_state, best_epoch = key, state_copy(model), epoch
            elapsed = time.monotonic() - train_started
            ctx.curve(
                "training",
                epoch=epoch,
                loss=round(float(np.mean(losses)), 5),
                map=round(score["map"], 5),
                map_50=round(score["map_50"], 5),
                seconds=round(time.monotonic() - started, 2),
            )
            ctx.report(
                5 + 85 * min(1.0, max(epoch / max_epochs, elapsed / max(budget, 1e-3))),
                "training",
                {"epoch": epoch, "map": score["map"], "map_50": score["map_50"], "split": "validation"},
            )
        model.load_state_dict(best_state)
        model.to("cpu").eval()
        ctx.log(
            f"trained {epoch} epoch(s) in {time.monotonic() - train_started:.1f} s; best epoch {best_epoch} "
            f"(mAP {best_key[0]:.3f}, mAP@0.5 {best_key[1]:.3f})"
        )
        return Trained(
            model,
            candidate,
            epoch,
            best_epoch,
            {"map": best_key[0], "map_50": best_key[1]},
            time.monotonic() - started,
            stopped,
            init,
        )

    def _step(
        self,
        model: Detector,
        optimizer: torch.optim.Optimizer,
        data: DetectionSet,
        idx: torch.Tensor,
        spec: dict[str, Any],
        generator: torch.Generator,
    ) -> float:
        images, boxes, classes = augment(
            data.canvases(idx),
            [data.boxes[i] for i in idx],
            [data.classes[i] for i in idx],
            generator,
            PAD_VALUE,
        )
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
        """Training seconds the deadline allows from ``train_started`` (evaluation, packaging excluded)."""
        ctx = self.ctx
        reserve = (
            ctx.packaging_margin_seconds
            + 3.0
            + 2.0 * eval_seconds * len(ctx.data.eval) / max(1, min(len(ctx.data.eval), SELECTION_EVAL_IMAGES))
        )
        return ctx.remaining_seconds() - reserve + (time.monotonic() - train_started)

    def _evaluate(self, model: Detector, data: DetectionSet, spec: dict[str, Any]) -> dict[str, float]:
        """mAP of the torch model on ``data``, with the predictor's post-processing."""
        found = _detect(model, data, spec, self.device)
        from trainer.engines.detection_metrics import mean_average_precision

        result = mean_average_precision(found, self.truths[: len(found)], len(self.labels))
        return {"map": result["map"], "map_50": result["map_50"]}

    def package(self, trained: Trained, spec: dict[str, Any]) -> dict[str, Any]:
        """Writes the package of ``trained`` and returns its metrics, measured through its predictor."""
        return write_package(self.ctx, trained, spec, self.labels, self.truths, self.previous is not None)


def _detect(model: Detector, data: DetectionSet, spec: dict[str, Any], device: torch.device) -> list[Any]:
    model.eval()
    wrapped = ExportedDetector(model)
    found = []
    with torch.no_grad():
        for i in range(0, len(data), 32):
            scores, boxes = (
                t.cpu().numpy() for t in wrapped(to_input(data.canvases(slice(i, i + 32)), spec).to(device))
            )
            for k in range(scores.shape[0]):
                found.append(
                    postprocess(
                        scores[k],
                        boxes[k],
                        data.scales[i + k],
                        data.sizes[i + k],
                        spec,
                        score_threshold=MAP_SCORE_THRESHOLD,
                    )
                )
    return found


def _truth(sample: Any, labels: list[str]) -> Truth:
    index = {label: i for i, label in enumerate(labels)}
    kept = [(index[name], box) for name, box in sample.boxes if name in index]
    return Truth(
        np.asarray([b for _, b in kept], dtype=np.float64).reshape(-1, 4),
        np.asarray([c for c, _ in kept], dtype=np.int64),
    )
