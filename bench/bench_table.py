"""The table engine against plain LightGBM defaults and FLAML, under the same time budget.

Datasets: scikit-learn's bundled breast cancer and wine (classification) and diabetes (regression), plus a
generated 20,000-row table with categorical columns and missing values. Each is split 80/20 once (fixed
seed); every contestant trains on the same 80 % and is scored on the same 20 %: accuracy (higher is better)
or RMSE (lower is better), with its wall time. FLAML is installed into this venv on first use.

    python bench/bench_table.py [--budget 60] [--datasets breast_cancer,wine,diabetes,synthetic]
                                [--preference balance]
"""

from __future__ import annotations

import argparse
import csv
import importlib
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import train_test_split

from trainer.engines.base import TableData, TrainContext, TrainingParams, VersionData
from trainer.engines.table import TableEngine

SEED = 0


def _bundled(loader, classification: bool) -> tuple[pd.DataFrame, pd.Series, bool]:
    data = loader(as_frame=True)
    return data.data, data.target.astype(int if classification else float), classification


def synthetic(n: int = 20000) -> tuple[pd.DataFrame, pd.Series, bool]:
    """Numeric and categorical columns, ~10 % missing cells, a non-linear label with noise."""
    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "income": rng.lognormal(10, 0.6, n),
        "tenure": rng.exponential(4, n),
        "region": rng.choice([f"r{i}" for i in range(25)], n),
        "device": rng.choice(["ios", "android", "web", "desktop"], n, p=[0.3, 0.4, 0.2, 0.1]),
        "plan": rng.choice(["free", "basic", "pro", "team", "enterprise"], n),
        "noise": rng.normal(0, 1, n),
    })
    region_effect = {f"r{i}": rng.normal(0, 1) for i in range(25)}
    score = (0.04 * (frame["age"] - 50) + 0.8 * np.log(frame["income"] / 20000) - 0.2 * frame["tenure"]
             + frame["region"].map(region_effect) + frame["plan"].map({"free": -1, "basic": -0.3, "pro": 0.4,
                                                                         "team": 0.8, "enterprise": 1.2})
             + np.where(frame["device"] == "ios", 0.5, 0) + rng.normal(0, 0.8, n))
    label = pd.Series(np.where(score > 0, "churn", "stay"), name="class")
    for column in ("income", "tenure", "region", "device"):
        frame.loc[rng.random(n) < 0.1, column] = np.nan
    return frame, label, True


DATASETS = {
    "breast_cancer": lambda: _bundled(skd.load_breast_cancer, True),
    "wine": lambda: _bundled(skd.load_wine, True),
    "diabetes": lambda: _bundled(skd.load_diabetes, False),
    "synthetic": synthetic,
}


def _write_csv(path: Path, x: pd.DataFrame, y: pd.Series) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*x.columns, "class"])
        for row, label in zip(x.itertuples(index=False), y):
            writer.writerow(["" if (isinstance(v, float) and math.isnan(v)) else v for v in row] + [label])


def _score(classification: bool, truth, predicted) -> float:
    if classification:
        return float(accuracy_score(np.asarray(truth).astype(str), np.asarray(predicted).astype(str)))
    return float(math.sqrt(mean_squared_error(truth, predicted)))


def run_engine(x_tr, y_tr, x_te, y_te, classification: bool, budget: float, preference: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_csv(folder / "train.csv", x_tr, y_tr)
        _write_csv(folder / "eval.csv", x_te, y_te)
        schema = [{"name": c, "type": "float" if pd.api.types.is_numeric_dtype(x_tr[c]) else "string"}
                  for c in x_tr.columns] + [{"name": "class", "type": "string" if classification else "float"}]
        table = TableData(folder / "train.csv", folder / "eval.csv", "class", schema)
        started = time.monotonic()
        ctx = TrainContext(params=TrainingParams(preference=preference, max_training_seconds=budget),
                           data=VersionData("predictive_analytics", [], table=table), work_dir=folder,
                           package_dir=folder / "package", deadline=started + budget,
                           packaging_margin_seconds=min(10.0, budget * 0.25), log=lambda _line: None)
        result = TableEngine().train(ctx)
        seconds = time.monotonic() - started
    return (result.metrics["accuracy"] if classification else result.metrics["rmse"]), seconds


def _categorical(x: pd.DataFrame) -> pd.DataFrame:
    x = x.copy()
    for column in x.columns:
        if x[column].dtype == object or str(x[column].dtype) in ("str", "string"):
            x[column] = x[column].astype("category")
    return x


def run_lightgbm(x_tr, y_tr, x_te, y_te, classification: bool) -> tuple[float, float]:
    import lightgbm as lgb

    started = time.monotonic()
    model = (lgb.LGBMClassifier if classification else lgb.LGBMRegressor)(random_state=SEED, verbosity=-1)
    model.fit(_categorical(x_tr), y_tr)
    return _score(classification, y_te, model.predict(_categorical(x_te))), time.monotonic() - started


def _flaml():
    """FLAML's AutoML; installed on first use (xgboost-cpu: the CPU-only wheel of the xgboost FLAML imports)."""
    try:
        from flaml import AutoML
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "flaml", "xgboost-cpu"], check=True)
        importlib.invalidate_caches()
        for name in [m for m in sys.modules if m == "flaml" or m.startswith("flaml.")]:
            del sys.modules[name]
        from flaml import AutoML
    return AutoML


def run_flaml(x_tr, y_tr, x_te, y_te, classification: bool, budget: float) -> tuple[float, float]:
    automl = _flaml()()
    started = time.monotonic()
    automl.fit(_categorical(x_tr), y_tr, task="classification" if classification else "regression",
               time_budget=budget, seed=SEED, verbose=0)
    return _score(classification, y_te, automl.predict(_categorical(x_te))), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per contestant and dataset")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--preference", default="balance",
                        choices=["performance_first", "balance", "accuracy_first"])
    args = parser.parse_args()
    header = f"{'dataset':<14}{'rows':>7} {'metric':<9}{'ExeML':>9}{'time s':>8}{'LGBM':>9}{'time s':>8}" \
             f"{'FLAML':>9}{'time s':>8}"
    print(f"table engine ({args.preference}) vs LightGBM defaults vs FLAML, budget {args.budget:.0f}s each")
    print(header)
    print("-" * len(header))
    for name in args.datasets.split(","):
        x, y, classification = DATASETS[name]()
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=SEED,
                                                  stratify=y if classification else None)
        split = (x_tr, y_tr, x_te, y_te)
        ours = run_engine(*split, classification, args.budget, args.preference)
        plain = run_lightgbm(*split, classification)
        flaml = run_flaml(*split, classification, args.budget)
        metric = "accuracy" if classification else "rmse"
        print(f"{name:<14}{len(x):>7} {metric:<9}" + "".join(f"{v:>9.4f}{t:>8.1f}" for v, t in (ours, plain, flaml)),
              flush=True)


if __name__ == "__main__":
    main()
