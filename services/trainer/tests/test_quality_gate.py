"""The quality gate's rule: beat the trivial baseline by more than the noise of the validation split."""

from __future__ import annotations

import dataclasses
import math

import pytest
from trainer.engines.base import Baseline, QualityReport
from trainer.quality import better_beyond_chance, judge, selection_cost, worth_choosing


def _accuracy(model: float, trivial: float = 0.5) -> QualityReport:
    return QualityReport(
        "accuracy", True, model, Baseline("majority class", trivial), Baseline("simple", 0.6)
    )


def test_accuracy_must_clear_the_binomial_noise_of_the_split() -> None:
    # 10 samples at a 0.5 baseline: 8 of 10 happens by luck 5.5 % of the time, 9 of 10 only 1.1 %.
    assert not judge(_accuracy(0.8), 10).passed
    verdict = judge(_accuracy(0.9), 10)
    assert verdict.passed and verdict.record["required"] == pytest.approx(0.9)
    assert verdict.record["simple"] == {"name": "simple", "score": 0.6}
    # The same lead is no longer noise on 1,000 samples.
    assert judge(_accuracy(0.55), 1000).passed and not judge(_accuracy(0.52), 1000).passed


def test_a_model_at_the_baseline_fails_with_what_helps() -> None:
    verdict = judge(_accuracy(0.34, trivial=0.34), 300)
    assert verdict.gated and not verdict.passed
    assert "does not beat the trivial baseline (majority class: 0.3400)" in verdict.message
    assert "more labeled data per class" in verdict.message and "longer training budget" in verdict.message
    assert "pretrained weights" in verdict.message
    assert verdict.record["passed"] is False


def test_errors_and_r2_must_remove_more_than_chance_explains() -> None:
    rmse = QualityReport("rmse", False, 0.97, Baseline("mean", 1.0))
    assert not judge(rmse, 30).passed  # removes 6 % of the squared error; chance explains 9 % on 30 rows
    assert judge(rmse, 1000).passed
    r2 = QualityReport("r2", True, 0.05, Baseline("mean", -0.01))
    assert not judge(r2, 30).passed and judge(r2, 1000).passed


def test_detection_map_at_a_zero_baseline_needs_a_real_hit() -> None:
    report = QualityReport("map_50", True, 0.0, Baseline("mean box", 0.0))
    assert not judge(report, 40).passed
    assert judge(QualityReport("map_50", True, 0.6, Baseline("mean box", 0.0)), 40).passed


def test_no_report_is_not_gated_and_no_validation_is_not_judged() -> None:
    verdict = judge(None, 50)
    assert not verdict.gated and verdict.passed and verdict.record is None
    empty = judge(_accuracy(1.0), 0)
    assert not empty.passed and not math.isfinite(empty.record["required"] or math.inf)


def test_a_split_too_small_to_judge_says_how_many_samples_it_needs() -> None:
    verdict = judge(_accuracy(1.0), 2)  # all right on 2 samples at a 0.5 baseline: luck 25 % of the time
    assert not verdict.passed
    assert "on 2 validation samples no model can beat the trivial baseline" in verdict.message
    assert "needs at least 5 samples" in verdict.message  # 5 of 5 at 0.5 happens 3.1 % of the time
    assert "more labeled data per class" in verdict.message
    assert judge(_accuracy(1.0), 5).passed


def test_the_best_of_several_scores_shares_the_five_percent() -> None:
    # 9 of 10 at 0.5 is luck 1.1 % of the time: enough alone, not as the best of 5 (5 %/5 = 1 %).
    alone = judge(_accuracy(0.9), 10)
    assert alone.passed and alone.record["compared"] == 1
    best_of_five = judge(dataclasses.replace(_accuracy(0.9), compared=5), 10)
    assert not best_of_five.passed
    assert best_of_five.record["compared"] == 5 and best_of_five.record["required"] == pytest.approx(1.0)
    assert "shared by the 5 validation scores the choice compared" in best_of_five.record["rule"]
    assert judge(dataclasses.replace(_accuracy(1.0), compared=5), 10).passed
    # the errors' rule too: z of 5 %/5 instead of 5 %
    rmse = QualityReport("rmse", False, 0.98, Baseline("mean", 1.0))  # needs <= 0.986 alone, 0.973 of 5
    assert judge(rmse, 100).passed and not judge(dataclasses.replace(rmse, compared=5), 100).passed


def test_the_shuffled_sound_case_of_ci_fails_as_the_best_of_its_models() -> None:
    # CI, 5 December: on shuffled labels the best of a sound engine's models got 6 of 6 clips of 2 classes
    # right. 6 of 6 at 0.5 is luck 1.6 % of the time: it passes 5 % alone, not 5 %/4 = 1.25 %.
    report = QualityReport("accuracy", True, 1.0, Baseline("majority class", 0.5), compared=4)
    verdict = judge(report, 6)
    assert not verdict.passed
    assert "no model can beat the trivial baseline" in verdict.message
    assert "needs at least 7 samples" in verdict.message  # 7 of 7 at 0.5: 0.8 %, below 1.25 %


def test_engines_choose_on_validation_only_where_the_shared_test_stays_passable() -> None:
    # the best of 3 on 8 clips of 2 classes would need all 8: the default is delivered instead
    assert selection_cost(8, 0.5, 3) == pytest.approx(1.0) and not worth_choosing(8, 0.5, 3)
    # 26 clips of 4 classes, best of 7: 13 of 26 (halfway to all right is 0.625)
    assert selection_cost(26, 0.25, 7) == pytest.approx(0.5) and worth_choosing(26, 0.25, 7)
    # 3 classes of images, best of 8: not on 9 or 15 validation images, on 20
    assert (
        not worth_choosing(9, 1 / 3, 8) and not worth_choosing(15, 1 / 3, 8) and worth_choosing(20, 1 / 3, 8)
    )
    assert worth_choosing(6, 0.5, 1)  # one model compared: nothing is chosen


def test_a_challenger_must_win_more_disagreements_than_luck_gives() -> None:
    # McNemar's exact one-sided test at 5 %: of 4 disagreements even 4 wins are luck 1 time in 16
    assert not better_beyond_chance(4, 0)
    assert better_beyond_chance(5, 0)
    assert not better_beyond_chance(8, 2) and better_beyond_chance(9, 1)  # of 10: 9 (P = 11/1024)
    assert not better_beyond_chance(0, 0) and not better_beyond_chance(1, 9)
    # what agrees does not count: 40 of 48 against 37 of 48 with 3 disagreements is no evidence
    assert not better_beyond_chance(3, 0)
