"""Latency measurement and library versions for model packages."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["library_versions", "measure_latency_ms"]


def measure_latency_ms(
    run: Callable[[], Any], budget_seconds: float = 1.0, max_runs: int = 20, warmups: int = 2
) -> float:
    """Median wall time of ``run()`` in ms after ``warmups`` calls, at least 3 runs, within about
    ``budget_seconds``."""
    for _ in range(warmups):
        run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones left out), for the package manifest."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
