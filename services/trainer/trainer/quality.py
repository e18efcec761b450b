"""The quality gate: a model that does not beat the trivial baseline by more than noise is never delivered.

Every engine reports a :class:`~trainer.engines.base.QualityReport`: the delivered model's score, a trivial
baseline (majority class, mean, mean box) and the best simple candidate it tried, all on the same validation
split. The gate asks whether the model's lead over the trivial baseline could be luck of that split:

* scores that are shares of the validation samples (accuracy, precision, recall, F1, mAP — bounded in
  [0, 1], higher is better): a one-sided binomial test at 5 %. Under "the model is no better than the
  baseline", its correct answers on ``n`` samples follow Binomial(n, baseline score); the model must score
  above the 95th percentile of that distribution (on 10 samples at a 0.5 baseline: 9 of 10);
* R² (higher is better, unbounded below) and error metrics (RMSE, MSE, MAE, log loss; lower is better): the
  share of the baseline's error the model removes must exceed z²/n (z = 1.645), the share that a correlation
  between predictions and targets explains by chance at 5 % on ``n`` samples.

An engine that chose the delivered model as the best of several on the same validation split (the epoch kept,
mirrored or not, an ensemble...) reports how many scores it compared (``QualityReport.compared``): the best of
``K`` models of noise beats a 5 % test far more often than 5 % of the time (on 6 clips of 2 classes, the best
of a sound engine's models of shuffled labels got all 6 right), so the 5 % is shared among them (Bonferroni:
each at 5 %/K, right whatever their dependence). Where that would cost too much — on a split so small that
the best of K would need more than halfway from the baseline's score to all right (:func:`worth_choosing`) —
engines compare nothing there and deliver their default.

A job whose model fails the gate fails (its package is not uploaded, so it is never registered nor
deployed) with a message that says so and what helps. An engine that reports no QualityReport is not gated
(logged); the gate becomes mandatory once every engine reports one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainer.engines.base import QualityReport

__all__ = [
    "ALPHA",
    "QUALITY_ERROR",
    "Verdict",
    "better_beyond_chance",
    "judge",
    "selection_cost",
    "worth_choosing",
]

ALPHA = 0.05
QUALITY_ERROR = "ModelArts.2794"  # the model does not beat the trivial baseline: not retried
SHARE_METRICS = ("accuracy", "precision", "recall", "f1", "map", "map_50", "map_50_95", "balanced_accuracy")
ERROR_METRICS = ("rmse", "mse", "mae", "log_loss")
HELP = (
    "what helps: more labeled data per class (and classes that differ in what the model can see), "
    "a longer training budget, or pretrained weights for the model family"
)


@dataclass(frozen=True)
class Verdict:
    """The gate's decision and what the job records (``record``: job details, package manifest)."""

    gated: bool
    passed: bool
    message: str
    record: dict[str, Any] | None


def judge(quality: QualityReport | None, eval_count: int | None) -> Verdict:
    if quality is None:
        return Verdict(False, True, "the engine reported no quality report: the model is not gated", None)
    n = int(eval_count or 0)
    required, rule = _required(quality, n, _level(quality))
    tolerance = 1e-9  # k/n read back from a float score
    better = (
        quality.model >= required - tolerance
        if quality.higher_is_better
        else quality.model <= required + tolerance
    )
    strictly = quality.model != quality.trivial.score
    passed = bool(n > 0 and better and strictly)
    record = _record(quality, n, required, rule, passed)
    return Verdict(True, passed, _message(quality, n, required, passed), record)


def selection_cost(n: int, trivial: float, compared: int) -> float:
    """The share of ``n`` validation samples the best of ``compared`` models must get right to pass the gate
    against a baseline scoring ``trivial`` (above 1: none can)."""
    if n <= 0:
        return math.inf
    return _correct_needed(n, trivial, ALPHA / max(1, compared)) / n


def _correct_needed(n: int, trivial: float, level: float) -> int:
    """The fewest right answers of ``n`` that beat a baseline scoring ``trivial`` in a one-sided binomial test
    at ``level``: fewer happen by luck at least that often."""
    return _binomial_quantile(n, min(max(trivial, 0.0), 1.0), 1 - level) + 1


def worth_choosing(n: int, trivial: float, compared: int) -> bool:
    """Whether an engine may choose the best of ``compared`` models on ``n`` validation samples (accuracy-like
    scores): yes when a model halfway from the baseline's score to all right still passes as the best of them.
    On 8 clips of 2 classes the best of 3 needs all 8 (no: the default is delivered); on 26 clips of 4 classes
    the best of 7 needs 13 (yes); on 9 images of 3 classes the best of 8 needs 8 (no), on 20 it needs 13 (yes)."""
    if compared <= 1:
        return True
    return selection_cost(n, trivial, compared) <= (1.0 + min(max(trivial, 0.0), 1.0)) / 2


def better_beyond_chance(wins: int, losses: int, level: float = ALPHA) -> bool:
    """Whether a challenger beats an incumbent on the same validation samples beyond luck: McNemar's exact
    one-sided test. ``wins``: samples only the challenger gets right; ``losses``: only the incumbent. If both
    were as good, each of those ``wins + losses`` samples would fall either way with even odds; the wins must
    be more than that happens by luck at ``level`` (of 4 such samples no count is enough; of 10, 9)."""
    n = wins + losses
    return n > 0 and wins >= _binomial_quantile(n, 0.5, 1 - level) + 1


def _level(q: QualityReport) -> float:
    """The test's level: 5 %, shared among the validation scores the delivered model was the best of."""
    return ALPHA / max(1, int(q.compared))


def _level_text(q: QualityReport) -> str:
    if max(1, int(q.compared)) == 1:
        return f"{ALPHA * 100:g} %"
    return f"{ALPHA * 100:g} % shared by the {q.compared} validation scores the choice compared"


def _required(q: QualityReport, n: int, level: float) -> tuple[float, str]:
    """The score the model must reach (at least, or at most for errors) to beat the baseline beyond noise."""
    base = q.trivial.score
    if n <= 0:
        return (math.inf if q.higher_is_better else -math.inf), "no validation samples: nothing can be judged"
    if q.higher_is_better and _is_share(q):
        k = _correct_needed(n, base, level)
        return k / n, f"binomial test, {_level_text(q)}: at least {k} of {n} validation samples"
    from scipy.stats import norm

    z = float(norm.ppf(1 - level))
    share = z * z / n
    if q.higher_is_better:  # R²-like: explained share of variance
        return base + share, f"R² above the baseline's by z²/n = {share:.4f}"
    if q.metric.lower() == "rmse":
        return base * math.sqrt(
            max(0.0, 1 - share)
        ), f"remove more than z²/n = {share:.4f} of the squared error"
    return base * max(0.0, 1 - share), f"remove more than z²/n = {share:.4f} of the error"


def _is_share(q: QualityReport) -> bool:
    name = q.metric.lower()
    if name in ERROR_METRICS or name == "r2":
        return False
    return (
        name in SHARE_METRICS or name.startswith("map") or (0.0 <= q.trivial.score <= 1.0 and q.model <= 1.0)
    )


def _binomial_quantile(n: int, p: float, level: float) -> int:
    """The smallest k with P(X <= k) >= level for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    from scipy.stats import binom

    return int(binom.ppf(level, n, p))


def _record(q: QualityReport, n: int, required: float, rule: str, passed: bool) -> dict[str, Any]:
    return {
        "metric": q.metric,
        "higher_is_better": q.higher_is_better,
        "model": _round(q.model),
        "trivial": {"name": q.trivial.name, "score": _round(q.trivial.score)},
        "simple": {"name": q.simple.name, "score": _round(q.simple.score)} if q.simple else None,
        "eval_count": n,
        "compared": max(1, int(q.compared)),
        "required": _round(required),
        "rule": rule,
        "passed": passed,
    }


def _message(q: QualityReport, n: int, required: float, passed: bool) -> str:
    verb = "beats" if passed else "does not beat"
    need = "at least" if q.higher_is_better else "at most"
    text = (
        f"the model ({q.metric} {q.model:.4f}) {verb} the trivial baseline ({q.trivial.name}: "
        f"{q.trivial.score:.4f}) by more than noise on {n} validation samples "
        f"(needed {need} {required:.4f})"
    )
    if not passed and q.higher_is_better and _is_share(q) and required > 1.0:
        smallest = _smallest_split(q.trivial.score, _level(q))
        text = (
            f"on {n} validation samples no model can beat the trivial baseline ({q.trivial.name}: "
            f"{q.trivial.score:.4f}) by more than noise, even with every answer right"
            + (f": the validation split needs at least {smallest} samples" if smallest else "")
        )
    return text if passed else f"{text}; it is not delivered. {HELP}"


def _smallest_split(p0: float, level: float, limit: int = 10_000) -> int | None:
    """The fewest validation samples on which all answers right beats a baseline of ``p0`` beyond noise."""
    for n in range(1, limit + 1):
        if _correct_needed(n, p0, level) <= n:
            return n
    return None


def _round(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None
