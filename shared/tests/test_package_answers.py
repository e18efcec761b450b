"""How the predictors write numbers in their answers: decimal strings as in the ExeML guide (ADR 0022)."""

from __future__ import annotations

import json

import numpy as np

from shared.packages.common import classification_answer, coordinate_text, score_text


def test_scores_and_coordinates_are_the_guides_decimal_strings() -> None:
    # the guide's image example: "0.972", "0.028", "0.000"
    assert [score_text(v) for v in (0.97183, 0.0281, 1e-9, 1.0)] == ["0.972", "0.028", "0.000", "1.000"]
    assert [coordinate_text(v) for v in (60.892128, 0.0, -0.0, 806.9064)] == [
        "60.89",
        "0.00",
        "0.00",
        "806.91",
    ]
    assert score_text(np.float32(0.5)) == "0.500"


def test_the_sound_and_text_answer_writes_its_scores_as_strings() -> None:
    answer = classification_answer(["a", "b", "c"], np.array([0.1, 0.7, 0.2]))
    assert answer == {
        "predicted_label": "b",
        "score": "0.700",
        "scores": [["b", "0.700"], ["c", "0.200"], ["a", "0.100"]],
    }
    assert json.loads(json.dumps(answer)) == answer
