"""The table engine on generated data, without infrastructure: search, package, predictor, metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from trainer.engines.base import DataError, TableData, TrainContext, VersionData
from trainer.engines.table.engine import TableEngine

from shared.packages import PredictionInputError, load_predictor


def _context(
    tmp_path: Path,
    tables,
    *,
    n: int = 400,
    budget: float = 15.0,
    header: bool = True,
    regression: bool = False,
    seed: int = 1,
    **params,
) -> TrainContext:
    tmp_path.mkdir(parents=True, exist_ok=True)
    train = tmp_path / "train.csv"
    evaluation = tmp_path / "eval.csv"
    train.write_bytes(tables.to_csv(tables.make_rows(n, seed=seed, regression=regression), header=header))
    evaluation.write_bytes(
        tables.to_csv(tables.make_rows(n // 4, seed=2, regression=regression), header=header)
    )
    schema = [*tables.SCHEMA[:-1], {"name": "class", "type": "float" if regression else "string"}]
    data = VersionData(
        task_type="predictive_analytics",
        labels=[],
        table=TableData(train, evaluation, "class", schema),
        dataset={"dataset_id": "d", "version_id": "v", "version_name": "V001"},
    )
    return tables.train_context(data, tmp_path, budget, **params)


def _eval_rows(tables) -> list[list[str]]:
    return tables.make_rows(100, seed=2)


def test_classification_package_reproduces_its_metrics(tmp_path, tables) -> None:
    ctx = _context(tmp_path, tables, preference="performance_first")
    result = TableEngine().train(ctx)
    assert result.metrics["problem"] == "classification"
    assert result.metrics["accuracy"] > 0.75, result.metrics
    assert len(result.metrics["confusion_matrix"]["matrix"]) == 2
    assert 1 <= len(result.candidates) <= 40 and "search" in ctx.curves
    assert "lightgbm-defaults" in [c["name"] for c in result.candidates]  # always a candidate
    manifest = json.loads((ctx.package_dir / "manifest.json").read_text())
    assert manifest["engine"]["candidate"] == result.candidate
    # The quality report: the model against the majority class and the simple candidates, same rows.
    assert result.quality.metric == "accuracy" and result.quality.model == result.metrics["accuracy"]
    assert result.quality.trivial.name == "majority class" and result.quality.trivial.score < 0.8
    assert result.quality.simple.name in ("LightGBM defaults", "linear model")
    schema = {c["name"]: c for c in manifest["input_schema"]["columns"]}
    assert schema["city"]["type"] == "categorical" and set(schema["city"]["categories"]) >= {"paris", "lyon"}
    assert schema["income"]["type"] == "numeric" and manifest["labels"] == ["no", "yes"]
    # The reference predictor, fed the eval rows as request objects, gives the reported accuracy.
    predictor = load_predictor(ctx.package_dir)
    rows = _eval_rows(tables)
    answer = predictor.predict(json.dumps(tables.as_request_rows(rows)).encode())["data"]["resp_data"]
    accuracy = sum(a["predict"] == r[-1] for a, r in zip(answer, rows)) / len(rows)
    assert accuracy == pytest.approx(result.metrics["accuracy"])
    assert set(answer[0]["probabilities"]) == {"no", "yes"}


def test_predictor_rejects_unknown_columns_and_reads_absent_cells_as_missing(tmp_path, tables) -> None:
    ctx = _context(tmp_path, tables, n=200, preference="performance_first")
    TableEngine().train(ctx)
    predictor = load_predictor(ctx.package_dir)
    row = tables.as_request_rows(tables.make_rows(1))[0]
    with pytest.raises(PredictionInputError) as unknown:
        predictor.predict(json.dumps([{**row, "colour": "red"}]).encode())
    assert unknown.value.rule == "unknown_column" and "colour" in unknown.value.field
    # A cell left out of the row, or null, is a missing value, as an empty cell was in training.
    absent = predictor.predict(
        json.dumps([{k: v for k, v in row.items() if k not in ("plan", "age")}]).encode()
    )
    null = predictor.predict(json.dumps([{**row, "plan": None, "age": None}]).encode())
    assert absent == null and absent["data"]["resp_data"][0]["predict"] in ("no", "yes")
    assert predictor.predict(json.dumps([{}]).encode())["data"]["resp_data"][0]["predict"] in ("no", "yes")
    with pytest.raises(PredictionInputError) as bad:
        predictor.predict(json.dumps([{**row, "age": "old"}]).encode())
    assert bad.value.rule == "value_not_numeric"
    # Missing values and unseen categories are fine; the label column and the request envelope too.
    odd = {**row, "income": None, "city": "berlin", "class": "yes"}
    answer = predictor.predict(json.dumps({"data": {"req_data": [odd]}}).encode())
    assert answer["data"]["resp_data"][0]["predict"] in ("no", "yes")


def test_regression_headerless_and_split_by_ratio(tmp_path, tables) -> None:
    ctx = _context(
        tmp_path, tables, regression=True, header=False, preference="performance_first", train_ratio=0.75
    )
    ctx.data.table.eval_csv = None  # no split in the version: the engine splits by train_ratio
    result = TableEngine().train(ctx)
    assert result.metrics["problem"] == "regression"
    assert result.metrics["eval_count"] == 100  # 25 % of 400 rows
    assert result.metrics["r2"] > 0.5 and result.metrics["rmse"] > 0


def test_stop_request_keeps_the_best_model(tmp_path, tables) -> None:
    ctx = _context(tmp_path, tables, budget=60, preference="accuracy_first")
    started = time.monotonic()
    ctx.stop_requested = lambda: time.monotonic() - started > 2.0
    result = TableEngine().train(ctx)
    assert result.stopped_early and time.monotonic() - started < 15
    manifest = json.loads((ctx.package_dir / "manifest.json").read_text())
    assert all((ctx.package_dir / f).is_file() for f in manifest["artifacts"].values())
    assert result.metrics["accuracy"] > 0.6


def test_budget_is_honoured(tmp_path, tables) -> None:
    ctx = _context(tmp_path, tables, budget=8, preference="accuracy_first")
    started = time.monotonic()
    TableEngine().train(ctx)
    assert time.monotonic() - started <= 8 + 1.0


def test_incremental_training_continues_from_the_previous_model(tmp_path, tables) -> None:
    first = _context(tmp_path / "a", tables, n=200, preference="performance_first")
    TableEngine().train(first)
    rounds_before = json.loads((first.package_dir / "manifest.json").read_text())["parameters"]["rounds"]
    second = _context(
        tmp_path / "b",
        tables,
        n=600,
        seed=3,
        preference="performance_first",
        incremental_package_dir=first.package_dir,
    )
    result = TableEngine().train(second)
    manifest = json.loads((second.package_dir / "manifest.json").read_text())
    assert manifest["parameters"]["incremental"] is True
    assert manifest["parameters"]["rounds"] > rounds_before
    assert result.metrics["accuracy"] > 0.7


def test_one_class_label_is_a_data_error(tmp_path, tables) -> None:
    rows = [r[:-1] + ["yes"] for r in tables.make_rows(50)]
    ctx = _context(tmp_path, tables, n=50)
    ctx.data.table.train_csv.write_bytes(tables.to_csv(rows))
    with pytest.raises(DataError, match="distinct value"):
        TableEngine().train(ctx)


def test_inference_time_limit_rejects_slow_candidates(tmp_path, tables) -> None:
    ctx = _context(tmp_path, tables, n=200, preference="performance_first", max_inference_ms=1e-6)
    with pytest.raises(DataError, match="max_inference_duration_ms"):
        TableEngine().train(ctx)


BLOCKED_IMPORTS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pydantic", "pandas", "sklearn", "sqlalchemy", "fastapi", "optuna", "trainer"}:
            raise ImportError(f"{name} is not in the Triton venv")
sys.meta_path.insert(0, Block())
import json
from shared.packages import load_predictor
predictor = load_predictor(sys.argv[1])
print(json.dumps(predictor.predict(sys.argv[2].encode())))
"""


def test_predictor_needs_only_numpy_and_lightgbm(tmp_path, tables) -> None:
    """The Triton python backend's venv has numpy 1.26 and lightgbm, not pydantic, pandas or scikit-learn."""
    import subprocess
    import sys

    ctx = _context(tmp_path, tables, n=200, preference="performance_first")
    TableEngine().train(ctx)
    rows = json.dumps(tables.as_request_rows(tables.make_rows(2)))
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORTS, str(ctx.package_dir), rows],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["data"]["resp_data"]) == 2


def test_cells_and_request_values_encode_alike() -> None:
    """CSV text (as pandas writes it) and JSON request values land on the same category or number."""
    from shared.packages.table import TableSchema, category_key, parse_number

    assert category_key(True) == category_key("True") == category_key("TRUE") == "true"
    assert category_key(3) == category_key(3.0) == category_key("3") == "3"
    assert category_key("") is None and category_key("NA") is None and category_key(None) is None
    assert parse_number("2.5") == parse_number(2.5) == 2.5
    schema = TableSchema(
        [
            {"name": "flag", "type": "categorical", "categories": ["false", "true"]},
            {"name": "x", "type": "numeric"},
        ],
        "class",
        "classification",
        ["a", "b"],
    )
    from_csv = schema.encode_columns({"flag": ["True", "False", ""], "x": ["1", "", "NA"]}, 3)
    from_json = schema.encode_rows(
        [{"flag": True, "x": 1}, {"flag": "false", "x": None}, {"flag": None, "x": "NA"}]
    )
    import numpy as np

    assert np.array_equal(from_csv, from_json, equal_nan=True)
    assert np.isnan(from_json[2]).all() and from_json[0].tolist() == [1.0, 1.0]


def test_the_smaller_the_table_the_more_often_its_folds_are_reshuffled() -> None:
    """5-fold CV five times over up to 300 rows, twice to 1,000, once above: the ranking of hundreds of
    candidates on a hundred rows is otherwise won by the luckiest (CV_REPEATS in search.py)."""
    import numpy as np
    from trainer.engines.table.search import make_folds

    for rows, splits in ((96, 25), (300, 25), (301, 10), (1000, 10), (1001, 5)):
        y = np.arange(rows) % 3
        folds = make_folds(y, True, seed=1).splits
        assert len(folds) == splits, rows
        # every row is validated once per repeat
        held_out = np.bincount(np.concatenate([b for _, b in folds]), minlength=rows)
        assert set(held_out.tolist()) == {splits // 5}


def test_small_tables_compare_candidates_by_their_rows_not_by_their_budget() -> None:
    from trainer.engines.table.search import PORTFOLIO, PRESETS, trial_limit

    balance = PRESETS["balance"]
    assert trial_limit(balance, 96) == 192
    assert trial_limit(balance, 2) == len(PORTFOLIO)  # the portfolio is always tried
    assert trial_limit(balance, 1000) == balance.trials == trial_limit(balance, 50_000)
    assert trial_limit(PRESETS["performance_first"], 96) == PRESETS["performance_first"].trials


def test_a_mid_size_table_is_scored_twice_over_when_the_budget_buys_many_candidates(tmp_path, tables) -> None:
    """1,000-5,000 rows: one 5-fold split, unless the portfolio's pace says the search would compare
    REPEAT_FROM_CANDIDATES or more candidates on it; then its folds are reshuffled once more and the
    portfolio is rescored on both (a long search on one split is won by the luckiest candidate)."""
    import dataclasses

    import numpy as np
    from trainer.engines.table.search import CV_FOLDS, PORTFOLIO, PRESETS, make_folds, run_search

    ctx = _context(tmp_path, tables, n=1500)
    engine = TableEngine()
    splits = engine._prepare(ctx, None)
    x = splits.schema.encode_columns(splits.train.columns, splits.train.n_rows)
    space = engine._space(ctx, splits.schema, None, len(x))
    folds = make_folds(splits.y_train, True, seed=2)
    assert len(folds.splits) == CV_FOLDS and not folds.why
    portfolio = [name for name, _ in PORTFOLIO]
    seen: list[str] = []

    def search(space, seconds: float, candidates: int):
        seen.clear()
        return run_search(
            space,
            x,
            splits.y_train,
            folds,
            seconds,
            lambda: len(seen) >= candidates,
            lambda candidate, _best: seen.append(candidate.name),
        )

    # A budget far beyond what the portfolio's pace needs: twice over, the portfolio scored again on both.
    found, used = search(space, 1e6, 2 * len(portfolio) + 2)
    assert len(used.splits) == 2 * CV_FOLDS and "on one split" in used.why, used.why
    assert seen[: len(portfolio)] == seen[len(portfolio) : 2 * len(portfolio)] == portfolio
    assert set(np.bincount(used.rows, minlength=len(x)).tolist()) == {2}  # every row validated twice
    assert {len(c.oof) for c in found} == {2 * len(x)} and {c.fits for c in found} == {2 * CV_FOLDS}
    # A budget that buys about fifty candidates at that pace, or a preset that compares forty: one split.
    pace = float(np.mean([c.seconds for c in found if c.name in portfolio])) / 2  # one split's
    for short, seconds in (
        (space, 50 * pace),
        (dataclasses.replace(space, preset=PRESETS["performance_first"]), 1e6),
    ):
        found, used = search(short, seconds, len(portfolio) + 2)
        assert used is folds and seen[: len(portfolio)] == portfolio and len(seen) == len(set(seen))
        assert {len(c.oof) for c in found} == {len(x)}
