"""The QUALITY line every quality bench prints, and the table of ratios to the best baseline.

    QUALITY type=<type> data=<name> budget=<s> system=<engine|baseline name> metric=<name> score=<x.xxxx> wall_s=<x.x>

One line per (dataset, budget, system); the system named ``engine`` is the platform's engine, every other
system is a baseline. :func:`ratio_table` reads such lines back (from this run or from other benches'
output) and prints, per row, each system's score and its ratio to the best baseline (higher is better: the
benches report metrics where higher is better, e.g. accuracy, mAP, R²).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from typing import Any

__all__ = [
    "ENGINE",
    "PACKAGING_MARGIN",
    "TOLERANCE",
    "bench_options",
    "engine_failure",
    "parse_lines",
    "planned_runs",
    "quality_line",
    "ratio_table",
    "report",
]

ENGINE = "engine"
PACKAGING_MARGIN = 10.0  # the trainer's default packaging_margin_seconds
TOLERANCE = 1.05  # the engine's wall time may pass its budget by 5 %
_LINE = re.compile(r"^QUALITY (?P<fields>(?:\w+=\S+ ?)+)$")


def quality_line(
    task_type: str, data: str, budget: float, system: str, metric: str, score: float, wall_s: float
) -> str:
    line = (
        f"QUALITY type={task_type} data={data} budget={budget:g} system={system.replace(' ', '_')} "
        f"metric={metric} score={score:.4f} wall_s={wall_s:.1f}"
    )
    print(line, flush=True)
    return line


def parse_lines(text: str) -> list[dict[str, str]]:
    rows = []
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if match:
            rows.append(dict(field.split("=", 1) for field in match["fields"].split()))
    return rows


def ratio_table(rows: list[dict[str, str]]) -> str:
    """Per (type, data, budget): the engine's score and wall time, the best baseline, the ratio, and a
    verdict (engine >= best baseline, wall <= budget + 5 %)."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[(row["type"], row["data"], row["budget"])].append(row)
    header = (
        f"{'type':<22}{'data':<26}{'budget':>7}  {'metric':<9}{'engine':>8}{'wall s':>8}  "
        f"{'best baseline':<28}{'score':>8}{'ratio':>7}  ok"
    )
    out = [header, "-" * len(header)]
    for (task, data, budget), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], float(kv[0][2]))
    ):
        engines = [r for r in group if r["system"] == ENGINE]
        baselines = [r for r in group if r["system"] != ENGINE]
        if not engines:
            continue
        mean = sum(float(r["score"]) for r in engines) / len(engines)
        wall = max(float(r["wall_s"]) for r in engines)
        best = max(baselines, key=lambda r: float(r["score"]), default=None)
        best_score = float(best["score"]) if best else float("nan")
        ratio = mean / best_score if best and best_score > 0 else float("nan")
        ok = (best is None or mean >= best_score) and wall <= float(budget) * TOLERANCE
        out.append(
            f"{task:<22}{data:<26}{budget:>7}  {engines[0]['metric']:<9}{mean:>8.4f}{wall:>8.1f}  "
            f"{(best['system'] if best else '-')[:27]:<28}{best_score:>8.4f}{ratio:>7.3f}  "
            f"{'yes' if ok else 'NO'}"
        )
    return "\n".join(out)


def bench_options(doc: str | None, datasets: list[str]) -> tuple[Any, list[float], list[int]]:
    """The options every quality bench takes: its arguments, the budgets and the data seeds to run."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--budgets", default="60,360", help="seconds per system and data set, comma-separated"
    )
    parser.add_argument("--seeds", default="1,2", help="data seeds (each is its own row)")
    parser.add_argument("--data", default=",".join(datasets))
    parser.add_argument("--preference", default="balance")
    parser.add_argument("--quick", action="store_true", help="one seed, 20 s budget (a smoke run)")
    args = parser.parse_args()
    budgets = [20.0] if args.quick else [float(b) for b in args.budgets.split(",")]
    seeds = [1] if args.quick else [int(s) for s in args.seeds.split(",")]
    return args, budgets, seeds


def planned_runs(datasets: list[str], budgets: list[float], seeds: list[int]) -> list[tuple[str, int, float]]:
    """The ``(data, seed, budget)`` rows to run: the shortest budget on every seed, longer ones on the first
    seed only (they take six times as long)."""
    return [
        (data, seed, budget)
        for budget in budgets
        for data in datasets
        for seed in (seeds if budget == min(budgets) else seeds[:1])
    ]


def engine_failure(data: str, budget: float, engine: tuple[float, float], best: float) -> str | None:
    """Why the engine's ``(score, wall)`` fails its row (below the best baseline, or over the budget by more
    than :data:`TOLERANCE`); None when it passes."""
    score, wall = engine
    if score < best or wall > budget * TOLERANCE:
        return f"{data} @ {budget:.0f} s: engine {score:.3f} vs best baseline {best:.3f}, wall {wall:.1f} s"
    return None


def report(lines: list[str], failures: list[str]) -> int:
    """Prints the ratio table of this run's QUALITY ``lines`` and the failures; the exit status."""
    print()
    print(ratio_table(parse_lines("\n".join(lines))))
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0
