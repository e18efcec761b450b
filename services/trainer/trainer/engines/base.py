"""The engine interface: one plugin per task type, run by a worker in a child process.

The worker prepares a :class:`TrainContext` (dataset version read from its manifest, sample files downloaded
to local disk, parameters, deadline) and calls ``engine.train(ctx)``. An engine is an AutoML search: it tries
a portfolio of candidates within the budget, picks the best on the validation split, writes the model
package into ``ctx.package_dir`` (see :mod:`shared.packages`) and returns an :class:`EngineResult`.

Rules every engine follows:

* check ``ctx.should_stop()`` between epochs/iterations/candidates; when it turns true, finish with the best
  model found so far (stop request or budget exhausted): package it and return with ``stopped_early=True``;
* keep ``ctx.remaining_seconds()`` minus ``ctx.packaging_margin_seconds`` for export + evaluation;
* never choose a model whose measured latency on ``ctx.params.inference_hardware`` exceeds
  ``ctx.params.max_inference_ms``;
* report progress with ``ctx.report(percent, phase, metric=…)`` and curve points with ``ctx.curve(...)``;
* compute metrics on ``ctx.data.eval`` with :mod:`trainer.metrics` (scikit-learn).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

__all__ = [
    "PHASES",
    "Baseline",
    "DataError",
    "Engine",
    "EngineError",
    "EngineResult",
    "QualityReport",
    "Sample",
    "TableData",
    "TrainContext",
    "TrainingParams",
    "VersionData",
]

Preference = Literal["performance_first", "balance", "accuracy_first"]


class DataError(ValueError):
    """The version cannot be trained on (too few rows or classes, unusable columns...): the job fails with
    this message, without retries."""


class EngineError(DataError):
    """The version or the parameters cannot give a model that follows the job's rules (too few images, no
    candidate within the max inference duration, unusable incremental version...): the message says why."""


@dataclass(frozen=True)
class TrainingParams:
    preference: Preference = "balance"
    max_training_seconds: float = 3600.0
    max_inference_ms: float | None = None
    inference_hardware: Literal["CPU", "GPU"] = "CPU"
    train_ratio: float = 0.8
    seed: int = 0
    problem: Literal["classification", "regression"] | None = None  # tables: override of the automatic choice
    incremental_package_dir: Path | None = None  # warm start from this package (same project and labels)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sample:
    """One labeled sample of a dataset version, its file on local disk (or its inline text)."""

    sample_id: str | None
    labels: list[str]
    path: Path | None = None
    text: str | None = None
    boxes: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)  # label, xyxy px
    width: int | None = None
    height: int | None = None

    def file(self) -> Path:
        """``path``, for the types whose samples are files (the engines check they all have one)."""
        if self.path is None:
            raise DataError(f"sample {self.sample_id}: it has no file")
        return self.path


@dataclass
class TableData:
    train_csv: Path
    eval_csv: Path | None
    label_column: str
    schema: list[dict[str, Any]]


@dataclass
class VersionData:
    task_type: str
    labels: list[str]
    train: list[Sample] = field(default_factory=list)
    eval: list[Sample] = field(default_factory=list)
    table: TableData | None = None
    dataset: dict[str, Any] = field(default_factory=dict)  # dataset_id, version_id, version_name


@dataclass
class TrainContext:
    params: TrainingParams
    data: VersionData
    work_dir: Path
    package_dir: Path
    deadline: float  # time.monotonic() value by which everything (package included) must be done
    packaging_margin_seconds: float = 10.0
    stop_requested: Callable[[], bool] = lambda: False
    on_progress: Callable[[float, str, dict[str, Any] | None], None] = lambda p, phase, metric: None
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: Callable[[str], None] = print
    _percent: float = field(default=0.0, init=False, repr=False)

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()

    def should_stop(self) -> bool:
        return self.stop_requested() or self.remaining_seconds() <= self.packaging_margin_seconds

    def report(self, percent: float, phase: str, metric: dict[str, Any] | None = None) -> None:
        """Progress only rises: a lower percent (a later candidate restarting its count) keeps the last one."""
        self._percent = max(self._percent, min(100.0, percent))
        self.on_progress(self._percent, phase, metric)

    def curve(self, name: str, **point: Any) -> None:
        self.curves.setdefault(name, []).append(point)


@dataclass(frozen=True)
class Baseline:
    """A reference model scored on the same validation split, with the same metric, as the delivered model."""

    name: str  # e.g. "majority class", "mean", "mean box", "MFCC statistics + logistic regression"
    score: float


@dataclass(frozen=True)
class QualityReport:
    """What the quality gate compares: the delivered model against a trivial baseline (majority class /
    mean / mean box) and the best simple candidate the engine tried, on ``metric``."""

    metric: str  # the key in ``EngineResult.metrics`` compared, e.g. "accuracy", "map_50", "rmse"
    higher_is_better: bool
    model: float
    trivial: Baseline
    simple: Baseline | None = None
    # How many validation scores the delivered model was chosen as the best of (epochs kept, options,
    # ensembles): the best of several is expected above chance on noise, so the gate shares its 5 % among
    # them (Bonferroni). 1 when the validation split chose nothing (selection on training folds only).
    compared: int = 1


# Stage names an engine reports through ``ctx.report(percent, phase)``: the job's phase timings are named
# after them, so each stage's seconds say what ran in it.
PHASES = ("loading data", "preparing data", "planning", "training", "evaluating", "packaging", "uploading")


@dataclass
class EngineResult:
    engine: str
    candidate: str
    metrics: dict[str, Any]
    candidates: list[dict[str, Any]] = field(default_factory=list)  # what was tried: name, score, seconds
    stopped_early: bool = False
    quality: QualityReport | None = None  # every engine fills it; the trainer's quality gate reads it
    plan: dict[str, Any] = field(default_factory=dict)  # what was considered and why (job details and log)


class Engine(Protocol):
    name: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]]

    def train(self, ctx: TrainContext) -> EngineResult: ...
