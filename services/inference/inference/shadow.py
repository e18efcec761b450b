"""Shadow traffic: a share of a service's requests is also sent to a candidate version, whose answers are
compared with the live answer and never returned.

The shadow call starts after the live answer is known, as a task of its own: the live response never waits
for it and nothing the shadow does (an error, a timeout, a model gone from Triton) reaches the caller. The
figures are kept in memory per process (a crash or restart starts them again): counts, and the latencies of
the last ``WINDOW`` live and shadow calls, from which p50/p95 are read.

Agreement, per task type (``AGREEMENT_RULES``, shown on the service):

* image, sound and text classification: the same ``predicted_label``;
* object detection: the same set of ``detection_classes`` scored at least ``DETECTION_THRESHOLD``;
* predictive analytics: every row the same ``predict``; numbers (regression) are compared rounded to
  3 significant digits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shared.logging import get_logger

__all__ = [
    "AGREEMENT_RULES",
    "DETECTION_THRESHOLD",
    "ShadowMirror",
    "ShadowStats",
    "agrees",
]

log = get_logger(__name__)
WINDOW = 1000  # latency samples kept per service and side
DETECTION_THRESHOLD = 0.5
AGREEMENT_RULES = {
    "image_classification": "same predicted_label",
    "sound_classification": "same predicted_label",
    "text_classification": "same predicted_label",
    "object_detection": f"same set of detection_classes scored >= {DETECTION_THRESHOLD}",
    "predictive_analytics": "same predict on every row (numbers rounded to 3 significant digits)",
}


def _rounded(value: Any) -> Any:
    return float(f"{value:.3g}") if isinstance(value, float) else value


def _detected(answer: dict[str, Any]) -> set[str]:
    """The classes detected at :data:`DETECTION_THRESHOLD` or more; scores are the canonical answer's
    decimal strings (``"0.972"``, ADR 0022), numbers are read too."""
    pairs = zip(answer.get("detection_classes", []), answer.get("detection_scores", []), strict=False)
    return {label for label, score in pairs if float(score) >= DETECTION_THRESHOLD}


def agrees(task_type: str, live: dict[str, Any], shadow: dict[str, Any]) -> bool:
    """Whether the shadow's answer agrees with the live one under the task type's rule."""
    if task_type == "object_detection":
        return _detected(live) == _detected(shadow)
    if task_type == "predictive_analytics":
        rows = [live.get("data", {}).get("resp_data", []), shadow.get("data", {}).get("resp_data", [])]
        return len(rows[0]) == len(rows[1]) and all(
            _rounded(a.get("predict")) == _rounded(b.get("predict")) for a, b in zip(*rows, strict=True)
        )
    return bool(live.get("predicted_label") == shadow.get("predicted_label"))


def _percentile(samples: deque[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@dataclass
class ShadowStats:
    """What one process saw of one service's shadow (a version named by ``target``)."""

    target: tuple[str, str]
    requests: int = 0
    agreements: int = 0
    errors: int = 0
    live_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    shadow_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "agreements": self.agreements,
            "errors": self.errors,
            "agreement_rate": round(self.agreements / self.requests, 4) if self.requests else None,
            "live_latency_ms": {
                "p50": _percentile(self.live_ms, 0.5),
                "p95": _percentile(self.live_ms, 0.95),
            },
            "shadow_latency_ms": {
                "p50": _percentile(self.shadow_ms, 0.5),
                "p95": _percentile(self.shadow_ms, 0.95),
            },
        }


Infer = Callable[[str, bytes], Awaitable[dict[str, Any]]]


class ShadowMirror:
    """Per-process: decides which requests are mirrored, runs the shadow calls, keeps the figures."""

    def __init__(self, infer: Infer, chance: Callable[[], float] = random.random) -> None:
        self._infer, self._chance = infer, chance
        self._stats: dict[str, ShadowStats] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def stats(self, service_id: str, target: tuple[str, str]) -> ShadowStats:
        """The figures of the service's shadow ``(model_id, model_version)``; a new shadow starts at zero."""
        stats = self._stats.get(service_id)
        if stats is None or stats.target != target:
            stats = self._stats[service_id] = ShadowStats(target)
        return stats

    def observe(
        self, service_id: str, shadow: dict[str, Any], payload: bytes, live: dict[str, Any], live_ms: float
    ) -> None:
        """Record the live call and, with probability ``share`` percent, mirror it to the shadow."""
        stats = self.stats(service_id, (shadow["model_id"], shadow["model_version"]))
        stats.live_ms.append(live_ms)
        if self._chance() * 100 >= shadow.get("share", 0):
            return
        task = asyncio.create_task(self._mirror(stats, shadow, payload, live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mirror(
        self, stats: ShadowStats, shadow: dict[str, Any], payload: bytes, live: dict[str, Any]
    ) -> None:
        started = time.perf_counter()
        try:
            answer = await self._infer(shadow["triton_model"], payload)
        except Exception as exc:  # noqa: BLE001 - a shadow's failure is a figure, never the caller's problem
            stats.errors += 1
            log.info("shadow call failed", model=shadow["triton_model"], error=repr(exc))
            return
        if "ok" not in answer:
            stats.errors += 1
            return
        stats.shadow_ms.append((time.perf_counter() - started) * 1000)
        stats.requests += 1
        stats.agreements += agrees(shadow["task_type"], live, answer["ok"])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
