"""Predict answers per task type: the ExeML guide's decimal strings by default, JSON numbers of equal values
with ``numbers=true`` (ADR 0022); table answers the same either way. Real predictors, no Triton."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from inference.numbers import with_numbers

from shared.packages import load_predictor
from shared.testing.packages_by_type import package_files, payloads

SCORE = re.compile(r"[01]\.\d{3}")  # "0.972", as the guide's image example
COORDINATE = re.compile(r"\d+\.\d{2}")  # pixels, "60.89"


def _answer(task_type: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in package_files(task_type).items():
            Path(tmp, name).write_bytes(data)
        answer: dict[str, Any] = load_predictor(tmp).predict(payloads(task_type, 1)[0])
    return json.loads(json.dumps(answer))  # what goes on the wire


def _confidences(answer: dict[str, Any]) -> list[Any]:
    return [
        *([answer["score"]] if "score" in answer else []),
        *(s for _, s in answer.get("scores", [])),
        *answer.get("detection_scores", []),
    ]


@pytest.mark.parametrize(
    "task_type",
    ["image_classification", "object_detection", "sound_classification", "text_classification"],
)
def test_each_type_answers_decimal_strings_and_numbers_on_request(task_type: str) -> None:
    answer = _answer(task_type)
    confidences = _confidences(answer)
    boxes = [v for box in answer.get("detection_boxes", []) for v in box]
    assert confidences and all(isinstance(s, str) and SCORE.fullmatch(s) for s in confidences), answer
    assert all(isinstance(v, str) and COORDINATE.fullmatch(v) for v in boxes), answer
    if task_type == "object_detection":
        assert boxes, "the test package finds a box"

    numbers = with_numbers(answer)
    assert set(numbers) == set(answer) and answer == _answer(task_type)  # the canonical answer is untouched
    assert numbers.get("predicted_label") == answer.get("predicted_label")
    assert numbers.get("detection_classes") == answer.get("detection_classes")
    assert [label for label, _ in numbers.get("scores", [])] == [
        label for label, _ in answer.get("scores", [])
    ]
    number_confidences = _confidences(numbers)
    assert all(type(v) is float for v in number_confidences)
    assert number_confidences == [float(s) for s in confidences]
    number_boxes = [v for box in numbers.get("detection_boxes", []) for v in box]
    assert all(type(v) is float for v in number_boxes) and number_boxes == [float(v) for v in boxes]
    assert json.loads(json.dumps(numbers)) == numbers


def test_table_answers_are_the_same_either_way() -> None:
    answer = _answer("predictive_analytics")
    assert "resp_data" in answer["data"]
    assert with_numbers(answer) == answer
    meta = {
        "meta": {"score": "0.5"},
        "data": {"resp_data": [{"predict": "yes", "probabilities": {"yes": 0.7}}]},
    }
    assert with_numbers(meta) == meta


def test_numbers_already_numbers_stay_numbers() -> None:
    answer = {"predicted_label": "a", "score": 0.9, "scores": [["a", 0.9], ["b", "0.100"]]}
    assert with_numbers(answer) == {"predicted_label": "a", "score": 0.9, "scores": [["a", 0.9], ["b", 0.1]]}
