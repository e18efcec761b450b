"""Batched answers equal unbatched ones for every task type, and a bad payload in a batch fails alone.

This is what Triton's dynamic batcher relies on: ``model.py`` answers all payloads of a batch with one
``predict_each`` call (one model run for the valid ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.packages import TASK_TYPES, PredictionInputError, Predictor, load_predictor
from shared.testing.packages_by_type import bad_payload, package_files, payloads, same


@pytest.fixture(scope="module", params=TASK_TYPES)
def predictor(request, tmp_path_factory) -> Predictor:
    folder = tmp_path_factory.mktemp(request.param)
    for name, data in package_files(request.param).items():
        (folder / name).write_bytes(data)
    return load_predictor(folder)


def _task(predictor: Predictor) -> str:
    return str(predictor.manifest["task_type"])


def test_one_batched_call_answers_each_payload_as_a_single_call_does(predictor: Predictor) -> None:
    inputs = payloads(_task(predictor))
    singles = [predictor.predict(p) for p in inputs]
    assert len({repr(s) for s in singles}) > 1, (
        "the inputs must get different answers to show an order mix-up"
    )
    assert same(predictor.predict_batch(inputs), singles)
    assert same(predictor.predict_each(inputs), singles)
    assert same(predictor.predict_each(inputs[::-1]), singles[::-1])


def test_a_bad_payload_in_a_batch_gets_its_own_error_and_the_others_their_answers(
    predictor: Predictor,
) -> None:
    inputs = payloads(_task(predictor), 3)
    bad = bad_payload(_task(predictor))
    with pytest.raises(PredictionInputError) as alone:
        predictor.predict(bad)
    answers = predictor.predict_each([inputs[0], bad, inputs[1], bad, inputs[2]])
    errors = [answers[1], answers[3]]
    assert all(isinstance(e, PredictionInputError) and e.rule == alone.value.rule for e in errors)
    assert same([answers[0], answers[2], answers[4]], [predictor.predict(p) for p in inputs])
    assert all(isinstance(e, PredictionInputError) for e in predictor.predict_each([bad, bad]))
    assert predictor.predict_each([]) == []


def test_a_batch_is_one_model_run(predictor: Predictor, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    original = predictor.predict_prepared
    monkeypatch.setattr(
        predictor, "predict_prepared", lambda prepared: runs.append(len(prepared)) or original(prepared)
    )
    predictor.predict_each([*payloads(_task(predictor), 4), bad_payload(_task(predictor))])
    assert runs == [4]


def test_the_fixtures_cover_every_type(tmp_path: Path) -> None:
    assert {t for t in TASK_TYPES if package_files(t)} == set(TASK_TYPES)
