"""Every quality bench (``bench_quality_*.py``: image, detection, sound, table, text), then one table.

Each bench trains its engine and its baselines side by side, with the same budget, in the same run, and
prints ``QUALITY ...`` lines (:mod:`quality_report`); this script runs them one after the other (never
at once: they would share the CPU and each other's budgets), passes its options on, and prints one
combined table: the engine's score against the best baseline per data set and budget, the ratio, and
whether the engine reached the best baseline within budget + 5 %.

    python bench/bench_quality.py [--budgets 60,360] [--quick] [--only table,text] [--from LOG ...]

``--from`` reads QUALITY lines from saved outputs instead of running the benches.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quality_report import parse_lines, ratio_table


def benches(only: str | None) -> list[Path]:
    found = sorted(HERE.glob("bench_quality_*.py"))
    if only:
        wanted = {f"bench_quality_{name}.py" for name in only.split(",")}
        found = [p for p in found if p.name in wanted]
    return found


def run(path: Path, extra: list[str]) -> str:
    print(f"== {path.name} {' '.join(extra)}", flush=True)
    done = subprocess.run([sys.executable, str(path), *extra], capture_output=True, text=True, check=False)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stdout.write(done.stderr[-3000:])
        print(f"!! {path.name} exited with {done.returncode}", flush=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budgets", help="passed on to every bench (each has its default: 60,360)")
    parser.add_argument("--quick", action="store_true", help="passed on: each bench's smoke run")
    parser.add_argument("--only", help="comma-separated types of bench_quality_<type>.py to run")
    parser.add_argument("--from", dest="logs", nargs="*", help="read QUALITY lines from these files instead")
    args = parser.parse_args()
    if args.logs:
        text = "\n".join(Path(p).read_text(encoding="utf-8", errors="replace") for p in args.logs)
    else:
        extra = (["--budgets", args.budgets] if args.budgets else []) + (["--quick"] if args.quick else [])
        text = "\n".join(run(path, extra) for path in benches(args.only))
    print("\n== all quality benches: the engine against the best baseline (same data, budget and run)")
    print(ratio_table(parse_lines(text)))


if __name__ == "__main__":
    main()
