"""The detection engine's training run: candidate timing, the epoch loop with best-epoch keeping, packaging.

See :mod:`trainer.engines.object_detection` for the whole procedure.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from shared.packages import read_manifest, write_manifest
from shared.packages.detection import DetectionPredictor, postprocess
from trainer.engines.base import DataError, TrainContext
from trainer.engines.common.latency import measure_latency_ms
from trainer.engines.common.torch_setup import setup_torch, state_dict_copy
from trainer.engines.object_detection.data import (
    DetectionSet,
    augment,
    check_normalisation,
    load_set,
    to_input,
)
from trainer.engines.object_detection.metrics import MAP_SCORE_THRESHOLD, Truth, mean_average_precision
from trainer.engines.object_detection.model import Detector, ExportedDetector, build_targets, detection_loss
from trainer.engines.object_detection.package import (
    MODEL_ONNX,
    export_onnx,
    load_backbone,
    pretrained_file,
    write_package,
)
from trainer.engines.object_detection.plan import (
    BATCH_SIZE,
    PAD_VALUE,
    SELECTION_EVAL_IMAGES,
    Candidate,
    Plan,
    preprocessing_spec,
)

__all__ = ["Run", "Trained"]

WARMUP_STEPS = 30
PACKAGE_SECONDS = 3.0  # ONNX export (its import), the check, manifest, predictor latency: 1-2 s measured
PACKAGE_SECONDS_PER_IMAGE = 0.01  # the predictor's evaluation of one validation image
EVAL_SHARE = 0.15  # validation passes during training take at most about this share of its time


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
    found: int = 0  # detections (score >= MAP_SCORE_THRESHOLD) of the kept weights on the validation images
    evaluations: int = 0  # validation passes the kept epoch was the best of


class Run:
    def __init__(self, ctx: TrainContext, labels: list[str], previous: dict[str, Any] | None) -> None:
        self.ctx, self.labels, self.previous = ctx, labels, previous
        self.device = setup_torch(ctx.params.seed)
        self.truths = [_truth(s, labels) for s in ctx.data.eval]
        self._sets: dict[int, tuple[DetectionSet, DetectionSet]] = {}

    def sets(self, size: int) -> tuple[DetectionSet, DetectionSet]:
        """Training and validation canvases at ``size``, decoded and letterboxed once."""
        if size not in self._sets:
            ctx, spec = self.ctx, preprocessing_spec(size)
            train_set = load_set(ctx.data.train, self.labels, spec, ctx.work_dir / f"canvases-{size}")
            selection = ctx.data.eval[:SELECTION_EVAL_IMAGES]
            eval_set = load_set(selection, self.labels, spec, ctx.work_dir / f"canvases-eval-{size}")
            self._sets[size] = (train_set, eval_set)
        return self._sets[size]

    def batch_size(self) -> int:
        return max(2, min(BATCH_SIZE, len(self.ctx.data.train)))

    def measure_step(self, candidate: Candidate, repeats: int = 2) -> float:
        """Seconds of one training step (augmentation, targets, forward, backward, update) of ``candidate``
        on real training canvases: the median of ``repeats`` steps after one warm-up step."""
        train_set, _ = self.sets(candidate.image_size)
        spec = preprocessing_spec(candidate.image_size)
        model = Detector(candidate.backbone, len(self.labels), candidate.channels)
        model.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch takes it; its stubs do not list it
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        generator = torch.Generator().manual_seed(0)
        idx = torch.arange(self.batch_size()) % len(train_set)
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            self._step(model, optimizer, train_set, idx, spec, generator)
            times.append(time.perf_counter() - t0)
        return float(np.median(times[1:]))

    # -- candidate ----------------------------------------------------------------------------------
    def within_latency(self, candidates: list[Candidate]) -> tuple[list[Candidate], list[dict[str, Any]]]:
        """The candidates whose exported network answers within ``max_inference_ms`` (CPU, batch 1)."""
        limit = self.ctx.params.max_inference_ms
        if limit is None or self.previous is not None:
            return candidates, []
        tried: list[dict[str, Any]] = []
        kept: list[Candidate] = []
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
                kept.append(candidate)
        if kept:
            return kept, tried
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
        payload = self.ctx.data.eval[0].file().read_bytes()
        return measure_latency_ms(lambda: predictor.predict(payload), warmups=1)

    # -- training -----------------------------------------------------------------------------------
    def fit(self, plan: Plan) -> Trained:
        """Trains ``plan.candidate`` for ``plan.epochs`` epochs or the time the deadline leaves, whichever
        ends first (the learning-rate schedule follows whichever is nearer its end); the best validation
        epoch's weights are kept."""
        ctx, candidate = self.ctx, plan.candidate
        spec = preprocessing_spec(candidate.image_size)
        assert check_normalisation(spec) < 1e-5
        started = time.monotonic()
        train_set, eval_set = self.sets(candidate.image_size)
        model = Detector(candidate.backbone, len(self.labels), candidate.channels)
        init: dict[str, Any] = {"weights": "random"}
        lr = 3e-3
        if self.previous is not None:
            model.load_state_dict(self.previous["state_dict"])
            init, lr = {"weights": "incremental", "from_job": self.previous.get("training_job_id")}, 1e-3
        elif (path := pretrained_file(candidate.backbone)) is not None:
            init, lr = {"weights": "pretrained", **load_backbone(model, path)}, 1e-3
        # channels-last convolutions: 20-25 % faster training steps on CPU (measured at 160 px, batch 16)
        model.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch takes it; its stubs do not list it
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        n = len(train_set)
        batch = plan.batch
        steps_per_epoch = math.ceil(n / batch)
        # the clock ends training; the epoch cap only stops it when the data are tiny (a slower measured
        # step than the real ones must not cut training short)
        max_epochs = max(1, plan.epoch_cap or plan.epochs)
        generator = torch.Generator().manual_seed(ctx.params.seed)
        best_state = state_dict_copy(model)
        best_key: tuple[float, float] = (-1.0, -1.0)
        best_found = 0
        best_epoch, epoch, step, eval_seconds, stopped = 0, 0, 0, 0.0, False
        last_eval, evaluations = 0, 0
        train_started = time.monotonic()
        while epoch < max_epochs and not stopped:
            budget = self._train_seconds(train_started, eval_seconds)
            epoch_started = time.monotonic()
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
            epoch_seconds = time.monotonic() - epoch_started
            # Validation after an epoch when its cost stays within EVAL_SHARE of the training time (and
            # always after the last one): on tiny sets an epoch is a few steps.
            every = max(1, math.ceil(eval_seconds / max(EVAL_SHARE * epoch_seconds, 1e-6)))
            last = (
                epoch >= max_epochs
                or stopped
                or self._train_seconds(train_started, eval_seconds)
                <= (time.monotonic() - train_started + epoch_seconds)
            )
            if epoch - last_eval < every and not last:
                continue
            last_eval, evaluations = epoch, evaluations + 1
            t0 = time.monotonic()
            score = self._evaluate(model, eval_set, spec)
            eval_seconds = time.monotonic() - t0
            key = (score["map_50"], score["map"])
            if key > best_key:
                best_key, best_state, best_epoch = key, state_dict_copy(model), epoch
                best_found = int(score["found"])
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
                10 + 75 * min(1.0, max(epoch / max_epochs, elapsed / max(budget, 1e-3))),
                "training",
                {"epoch": epoch, "map": score["map"], "map_50": score["map_50"], "split": "validation"},
            )
        model.load_state_dict(best_state)
        model.to("cpu", memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]  # torch takes it; its stubs do not list it
        ctx.log(
            f"trained {epoch} epoch(s), {step} steps in {time.monotonic() - train_started:.1f} s; best epoch "
            f"{best_epoch} (mAP@0.5 {best_key[0]:.3f}, mAP {best_key[1]:.3f})"
        )
        return Trained(
            model,
            candidate,
            epoch,
            best_epoch,
            {"map": best_key[1], "map_50": best_key[0]},
            time.monotonic() - started,
            stopped,
            init,
            best_found,
            evaluations,
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
        height, width = images.shape[-2:]
        heat, target, weight = build_targets(boxes, classes, len(self.labels), (height, width))
        device = self.device
        logits, pred = model(to_input(images, spec).to(device).contiguous(memory_format=torch.channels_last))
        loss, _ = detection_loss(logits, pred, heat.to(device), target.to(device), weight.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        return float(loss.detach())

    def package_reserve(self) -> float:
        """Seconds kept after training: the packaging margin, or what packaging takes when that is more
        (ONNX export and check, the validation images through the predictor, its latency)."""
        return max(
            self.ctx.packaging_margin_seconds, PACKAGE_SECONDS + PACKAGE_SECONDS_PER_IMAGE * len(self.truths)
        )

    def _train_seconds(self, train_started: float, eval_seconds: float) -> float:
        """Training seconds the deadline allows from ``train_started`` (the last validation pass and
        packaging excluded)."""
        reserve = self.package_reserve() + eval_seconds
        return self.ctx.remaining_seconds() - reserve + (time.monotonic() - train_started)

    def _evaluate(self, model: Detector, data: DetectionSet, spec: dict[str, Any]) -> dict[str, float]:
        """mAP of the torch model on ``data``, with the predictor's post-processing."""
        found = _detect(model, data, spec, self.device)
        result = mean_average_precision(found, self.truths[: len(found)], len(self.labels))
        return {"map": result["map"], "map_50": result["map_50"], "found": sum(len(f.scores) for f in found)}

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
