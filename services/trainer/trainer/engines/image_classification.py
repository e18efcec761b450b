"""Image classification engine: fine-tunes timm backbones within the time budget and exports ONNX.

The search:

1. **Portfolio** by training preference (:data:`PORTFOLIOS`, preferred first, smaller fall-backs after):
   ``performance_first`` trains one small MobileNetV3 at low resolution, ``balance`` up to two candidates
   (ResNet-18, MobileNetV3-Large at 224 px), ``accuracy_first`` up to three larger ones (ConvNeXt-Tiny,
   EfficientNet-B2 at 256 px, ResNet-50). ``params.extra["image_candidates"]`` (list of ``{"model",
   "image_size"}``) or the environment variable ``EXEML_IMAGE_CANDIDATES`` (``"resnet18@224,lcnet_050@96"``)
   replaces the portfolio (tests, operators with their own weights); all of those candidates are tried.
2. **Inference-time rule**: when ``max_inference_ms`` is set, each candidate (random weights: the same
   architecture runs equally fast) is exported to ONNX and timed through the package predictor on one of the
   version's own images — decoding and pre-processing included — on CPU (on GPU when ``inference_hardware``
   is GPU and onnxruntime has CUDA; otherwise the CPU time, an upper bound, is used and recorded). Candidates
   slower than the limit are never trained. When none fits, the job fails with :class:`EngineError` naming
   the fastest candidate and its time: a model that breaks the user's limit is never delivered.
3. **Fine-tuning** of each chosen candidate in its share of the remaining time: weights from
   ``EXEML_PRETRAINED_DIR`` when the folder holds the model's file (classifier head excluded), random
   otherwise; AdamW + cosine schedule, label smoothing, augmentation (see :mod:`trainer.engines.image_data`),
   early stopping on validation accuracy; the best epoch's weights are kept, so a stop at any moment still
   packages the best model so far. Stop requests and the budget are checked after every batch; besides
   ``packaging_margin_seconds`` the loop keeps free three times the last validation pass plus 2 s (the
   package's export and its evaluation through the predictor).
4. The best candidate on validation accuracy is exported to ONNX (opset 17, dynamic batch), checked against
   torch on validation images, packaged with ``model.pt`` (state dict, for incremental training) and
   evaluated **through the package's predictor** on the validation files, so the metrics are serving's.

Incremental training: a previous package of this engine (``incremental_package_dir``) is continued with its
architecture and resolution; all its weights load when the label list is the same, all but the classifier
head otherwise. Multi-label images are trained and evaluated on their first label (see ``image_data``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from shared.packages import PredictionInputError, read_manifest, write_manifest
from shared.packages.image import ImageClassificationPredictor, decode_image, normalize, resize_and_crop
from trainer.engines.base import EngineResult, TrainContext
from trainer.engines.image_data import augmented_loader, load_image_sets
from trainer.engines.image_package import (
    CROP_PCT,
    Candidate,
    TrainedModel,
    create_model,
    manifest_core,
    preprocessing_spec,
    write_package,
)
from trainer.engines.vision import (
    EngineError,
    export_onnx,
    find_pretrained_file,
    load_pretrained,
    measure_latency_ms,
    setup_torch,
    state_dict_copy,
)

__all__ = ["PORTFOLIOS", "Candidate", "ImageClassificationEngine"]

_SMALL = (Candidate("mobilenetv3_small_050", 128), Candidate("lcnet_050", 96))
PORTFOLIOS: dict[str, tuple[Candidate, ...]] = {
    "performance_first": (Candidate("mobilenetv3_small_100", 160), *_SMALL),
    "balance": (
        Candidate("resnet18", 224),
        Candidate("mobilenetv3_large_100", 224),
        Candidate("mobilenetv3_small_100", 160),
        *_SMALL,
    ),
    "accuracy_first": (
        Candidate("convnext_tiny", 224),
        Candidate("efficientnet_b2", 256),
        Candidate("resnet50", 224),
        Candidate("resnet18", 224),
        Candidate("mobilenetv3_small_100", 160),
        *_SMALL,
    ),
}
# Operators (and end-to-end tests with a separate worker process) may replace the portfolio:
# EXEML_IMAGE_CANDIDATES="resnet18@224,mobilenetv3_small_100@160" - every listed candidate is tried.
CANDIDATES_ENV = "EXEML_IMAGE_CANDIDATES"
SEARCH_WIDTH = {"performance_first": 1, "balance": 2, "accuracy_first": 3}  # candidates trained
MAX_EPOCHS = {"performance_first": 15, "balance": 40, "accuracy_first": 80}
PATIENCE = {"performance_first": 4, "balance": 6, "accuracy_first": 8}


@dataclass
class _Run:
    candidate: Candidate
    model: nn.Module
    spec: dict[str, Any]
    init: dict[str, Any]
    best_state: dict[str, torch.Tensor] | None = None
    best_accuracy: float = -1.0
    best_loss: float = math.inf
    lowest_loss: float = math.inf  # of any epoch (early stopping)
    best_epoch: int = 0
    epochs: int = 0
    seconds: float = 0.0
    stopped: bool = False  # ended by a stop request or the time budget, not by convergence

    def details(self) -> dict[str, Any]:
        return {"init": self.init, "best_epoch": self.best_epoch, "epochs": self.epochs}


class ImageClassificationEngine:
    name: ClassVar[str] = "image_classification"
    task_types: ClassVar[tuple[str, ...]] = ("image_classification",)

    # ---- the search --------------------------------------------------------------------------------
    def train(self, ctx: TrainContext) -> EngineResult:
        started = time.monotonic()
        self._budget = (started, max(1.0, ctx.remaining_seconds() - ctx.packaging_margin_seconds))
        device = setup_torch(ctx.params.seed)
        labels = list(ctx.data.labels)
        if len(labels) < 2:
            raise EngineError(f"image classification needs at least 2 labels, the version has {len(labels)}")
        ctx.report(1, "planning")
        plan, tried = self._plan(ctx, labels)
        max_shorter = max(round(c.image_size / CROP_PCT) for c in plan)
        ctx.report(3, "loading")
        train_set, eval_set = load_image_sets(ctx, labels, max_shorter)
        runs: list[_Run] = []
        for i, candidate in enumerate(plan):
            if runs and ctx.should_stop():
                runs[-1].stopped = True
                break
            share = (ctx.remaining_seconds() - ctx.packaging_margin_seconds) / (len(plan) - i)
            run = self._fit(ctx, candidate, labels, train_set, eval_set, device, time.monotonic() + share)
            runs.append(run)
            self._record(tried, run)
        best = max(runs, key=lambda r: (r.best_accuracy, -r.best_loss))
        ctx.report(95, "packaging", {"accuracy": best.best_accuracy})
        trained = TrainedModel(best.candidate, best.model, best.spec, best.best_state, best.details())
        metrics = write_package(ctx, labels, trained, eval_set, tried, self.name)
        ctx.report(100, "completed", {"accuracy": metrics["accuracy"]})
        ctx.log(f"image classification: {best.candidate.name} in {time.monotonic() - started:.1f}s")
        return EngineResult(
            engine=self.name,
            candidate=best.candidate.name,
            metrics=metrics,
            candidates=tried,
            stopped_early=any(r.stopped for r in runs),
        )

    @staticmethod
    def _custom_candidates(ctx: TrainContext) -> list[Candidate]:
        """Candidates that replace the portfolio: ``extra["image_candidates"]`` or ``EXEML_IMAGE_CANDIDATES``."""
        custom = ctx.params.extra.get("image_candidates")
        if custom:
            return [Candidate(str(c["model"]), int(c["image_size"])) for c in custom]
        names = [n.strip() for n in os.environ.get(CANDIDATES_ENV, "").split(",") if n.strip()]
        try:
            return [Candidate(n.split("@")[0], int(n.split("@")[1])) for n in names]
        except (IndexError, ValueError) as exc:
            raise EngineError(f"{CANDIDATES_ENV} must list timm_model@size items, e.g. resnet18@224") from exc

    def _portfolio(self, ctx: TrainContext) -> list[Candidate]:
        custom = self._custom_candidates(ctx)
        if custom:
            return custom
        return list(PORTFOLIOS[ctx.params.preference])

    def _warm_candidate(self, ctx: TrainContext) -> Candidate | None:
        folder = ctx.params.incremental_package_dir
        if folder is None:
            return None
        manifest = read_manifest(Path(folder))
        model = manifest.get("model") or {}
        weights = Path(folder) / manifest["artifacts"].get("weights", "model.pt")
        if (
            manifest.get("task_type") != "image_classification"
            or "timm_name" not in model
            or not weights.is_file()
        ):
            raise EngineError(
                "the incremental training version is not an image classification model of this engine"
            )
        return Candidate(model["timm_name"], int(model["image_size"]), warm_start=weights)

    @staticmethod
    def _sample_payload(ctx: TrainContext) -> bytes | None:
        """One readable image of the version: latency is timed on the user's own image size."""
        for sample in ctx.data.train + ctx.data.eval:
            try:
                payload = Path(sample.path).read_bytes() if sample.path is not None else b""
                decode_image(payload)
                return payload
            except (OSError, PredictionInputError):
                continue
        return None

    def _plan(self, ctx: TrainContext, labels: list[str]) -> tuple[list[Candidate], list[dict[str, Any]]]:
        """The candidates to train (preferred first) and the record of every candidate considered."""
        limit = ctx.params.max_inference_ms
        custom = self._custom_candidates(ctx)
        width = len(custom) if custom else SEARCH_WIDTH[ctx.params.preference]
        warm = self._warm_candidate(ctx)
        payload = self._sample_payload(ctx) if limit is not None else None
        chosen: list[Candidate] = []
        tried: list[dict[str, Any]] = []
        for candidate in ([warm] if warm else []) + self._portfolio(ctx):
            if len(chosen) >= (1 if chosen and chosen[0].warm_start else width):
                break
            latency = None if payload is None else self.candidate_latency_ms(candidate, labels, payload, ctx)
            fits = latency is None or latency <= limit
            entry = {
                "name": candidate.name,
                "latency_ms": latency,
                "status": "planned" if fits else "too_slow",
            }
            if latency is not None:
                entry["measured_on"] = "GPU" if self._providers(ctx)[0].startswith("CUDA") else "CPU"
            tried.append(entry)
            if fits:
                chosen.append(candidate)
            elif candidate.warm_start:
                ctx.log(
                    f"incremental model {candidate.name} takes {latency:.1f} ms > {limit} ms: starting afresh"
                )
        if not chosen:
            fastest = min(tried, key=lambda t: t["latency_ms"])
            where = ctx.params.inference_hardware
            if fastest["measured_on"] != where:  # GPU asked, no CUDA runtime here: CPU time, an upper bound
                where += f" (measured on {fastest['measured_on']})"
            raise EngineError(
                f"no model meets the max inference duration of {limit} ms on {where}: "
                f"the fastest candidate, {fastest['name']}, takes {fastest['latency_ms']:.1f} ms"
            )
        return chosen, tried

    def candidate_latency_ms(
        self, candidate: Candidate, labels: list[str], payload: bytes, ctx: TrainContext
    ) -> float:
        """Inference time of one image through the package predictor (decode + pre-process + model)."""
        folder = ctx.work_dir / "latency" / candidate.name.replace("@", "_")
        folder.mkdir(parents=True, exist_ok=True)
        model = create_model(candidate, len(labels))
        export_onnx(model, folder / "model.onnx", (candidate.image_size, candidate.image_size))
        write_manifest(folder, manifest_core(labels, candidate, preprocessing_spec(model, candidate)))
        predictor = ImageClassificationPredictor(folder, read_manifest(folder))
        predictor.providers = self._providers(ctx)
        return measure_latency_ms(lambda: predictor.predict(payload))

    @staticmethod
    def _providers(ctx: TrainContext) -> list[str]:
        import onnxruntime as ort

        if (
            ctx.params.inference_hardware == "GPU"
            and "CUDAExecutionProvider" in ort.get_available_providers()
        ):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]

    @staticmethod
    def _record(tried: list[dict[str, Any]], run: _Run) -> None:
        entry = next(t for t in tried if t["name"] == run.candidate.name and t["status"] == "planned")
        entry.update(
            status="trained",
            score=run.best_accuracy,
            best_epoch=run.best_epoch,
            epochs=run.epochs,
            seconds=round(run.seconds, 2),
            init=run.init,
        )

    # ---- one candidate -----------------------------------------------------------------------------
    def _initialise(
        self, model: nn.Module, candidate: Candidate, labels: list[str], ctx: TrainContext
    ) -> dict:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        heads = cfg.get("classifier") or ()
        heads = tuple(f"{h}." for h in ((heads,) if isinstance(heads, str) else heads))
        if candidate.warm_start is not None:
            saved = torch.load(candidate.warm_start, map_location="cpu", weights_only=True)
            if list(saved.get("labels", [])) == labels:
                model.load_state_dict(saved["state_dict"])
                return {"source": "incremental", "head": "kept"}
            return {"source": "incremental", **load_pretrained(model, candidate.warm_start, heads)}
        path = find_pretrained_file(candidate.model)
        if path is None:
            return {"source": "random"}
        return {"source": "pretrained", **load_pretrained(model, path, heads)}

    def _fit(self, ctx, candidate, labels, train_set, eval_set, device, until) -> _Run:
        model = create_model(candidate, len(labels))
        run = _Run(
            candidate,
            model,
            preprocessing_spec(model, candidate),
            self._initialise(model, candidate, labels, ctx),
        )
        ctx.log(
            f"training {candidate.name} ({run.init['source']} weights) for up to {until - time.monotonic():.0f}s"
        )
        # uint8 crops (a quarter of float32's memory), normalised batch by batch with the predictor's code
        eval_x = np.stack([np.asarray(resize_and_crop(image, run.spec)) for image in eval_set.images])
        eval_y = torch.tensor(eval_set.targets)
        pref = ctx.params.preference
        max_epochs = int(ctx.params.extra.get("max_epochs", MAX_EPOCHS[pref]))
        patience = int(ctx.params.extra.get("patience", PATIENCE[pref]))
        # small versions get small batches: enough optimizer steps per epoch for early stopping to judge
        batch_size = int(ctx.params.extra.get("batch_size") or min(32, max(8, len(train_set) // 8)))
        loader = augmented_loader(train_set, run.spec, batch_size, ctx.params.seed)
        model.to(device)
        lr = float(ctx.params.extra.get("learning_rate", 5e-4 if run.init["source"] != "random" else 1e-3))
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        started, epoch_seconds, stale, reserve = time.monotonic(), 0.0, 0, 0.0
        for epoch in range(1, max_epochs + 1):
            limit = min(until, ctx.deadline - ctx.packaging_margin_seconds - reserve)
            if run.best_state is not None and (ctx.should_stop() or time.monotonic() + epoch_seconds > limit):
                run.stopped = True
                break
            t0 = time.monotonic()
            train_loss, complete = self._epoch(model, loader, optimizer, loss_fn, device, ctx, limit)
            schedule.step()
            t_eval = time.monotonic()
            accuracy, val_loss = self._evaluate(model, eval_x, eval_y, run.spec, loss_fn, device)
            # time kept free for this epoch's evaluation and the package's (export, validation through the
            # predictor on the original files): large validation sets must not push past the deadline
            reserve = 3 * (time.monotonic() - t_eval) + 2.0
            run.epochs, epoch_seconds = epoch, time.monotonic() - t0
            self._curve(ctx, candidate, epoch, train_loss, accuracy, val_loss)
            stale = 0 if self._keep_best(run, model, epoch, accuracy, val_loss) else stale + 1
            self._progress(ctx, candidate, epoch, run.best_accuracy)
            run.stopped = not complete
            if not complete or stale >= patience:
                break
        run.seconds = time.monotonic() - started
        return run

    @staticmethod
    def _keep_best(run: _Run, model: nn.Module, epoch: int, accuracy: float, val_loss: float) -> bool:
        """Keeps the weights of the best epoch (accuracy, then loss); True when the epoch made progress.

        Progress is a better accuracy *or* a lower validation loss: on small validation sets accuracy moves
        in coarse steps, and stopping on it alone ends training while the model is still improving.
        """
        progress = accuracy > run.best_accuracy or val_loss < run.lowest_loss - 1e-4
        run.lowest_loss = min(run.lowest_loss, val_loss)
        if run.best_state is None or (accuracy, -val_loss) > (run.best_accuracy, -run.best_loss):
            run.best_state, run.best_accuracy, run.best_loss = state_dict_copy(model), accuracy, val_loss
            run.best_epoch = epoch
        return progress

    @staticmethod
    def _epoch(model, loader, optimizer, loss_fn, device, ctx, until) -> tuple[float, bool]:
        model.train()
        total, count = 0.0, 0
        for images, targets in loader:
            if count and (ctx.should_stop() or time.monotonic() > until):
                return total / count, False
            images, targets = images.to(device), targets.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images), targets)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()) * len(targets), count + len(targets)
        return total / max(count, 1), True

    @staticmethod
    def _evaluate(model, eval_x, eval_y, spec, loss_fn, device) -> tuple[float, float]:
        model.eval()
        logits = []
        with torch.no_grad():
            for start in range(0, len(eval_x), 64):
                batch = np.stack([normalize(pixels, spec) for pixels in eval_x[start : start + 64]])
                logits.append(model(torch.from_numpy(batch).to(device)).float().cpu())
        out = torch.cat(logits)
        accuracy = float((out.argmax(1) == eval_y).float().mean())
        return accuracy, float(loss_fn(out, eval_y))

    @staticmethod
    def _curve(ctx, candidate, epoch, train_loss, accuracy, val_loss) -> None:
        ctx.curve("train_loss", candidate=candidate.name, epoch=epoch, value=round(train_loss, 6))
        ctx.curve("val_loss", candidate=candidate.name, epoch=epoch, value=round(val_loss, 6))
        ctx.curve("val_accuracy", candidate=candidate.name, epoch=epoch, value=round(accuracy, 6))

    def _progress(self, ctx: TrainContext, candidate: Candidate, epoch: int, best: float) -> None:
        start, total = self._budget
        percent = 5 + 90 * min(1.0, (time.monotonic() - start) / total)
        ctx.report(percent, "training", {"accuracy": best, "candidate": candidate.name, "epoch": epoch})
