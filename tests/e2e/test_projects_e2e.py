"""End to end through the gateway only, for each of the five project types.

Data in the seed's layout is put in S3 → dataset created from it → project → label (where the type has a
labeling phase) → Next → publish → check → train (short test budget) → register 0.0.1 → deploy with auto stop →
predict in the documented format → second round → 0.0.2 → deploy both at 80/20 → predict → stop.

Runs on PostgreSQL, RabbitMQ, S3 and the Triton server bundled in .venv-triton (``distributed``), and once more in
the embedded mode (SQLite, in-memory bus, local storage, everything in one process as ``make run`` starts it).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from shared.packages import TASK_TYPES, load_predictor
from shared.testing import datagen


def _predict_request(project_type: str) -> dict:
    if project_type == "image_classification":
        image = datagen.image_classification_files(per_class=1, seed=99)
        return {
            "files": {
                "images": ("probe.png", next(v for k, v in image.items() if k.endswith(".png")), "image/png")
            }
        }
    if project_type == "object_detection":
        scene = datagen.detection_files(images=1, seed=99)
        return {"files": {"images": ("probe.png", scene["scene_000.png"], "image/png")}}
    if project_type == "sound_classification":
        return {"files": {"sound": ("probe.wav", datagen.wav_bytes(300.0, seed=5), "audio/wav")}}
    if project_type == "text_classification":
        return {"json": {"text": "这个产品很好我很喜欢"}}
    return {
        "json": {
            "data": {
                "req_data": [
                    {"age": 30, "income": 52.5, "city": "north", "score": 0.3},
                    {"age": 70, "income": 20.0, "city": "west", "score": -1.0},
                ]
            }
        }
    }


def _payload(project_type: str, request: dict) -> bytes:
    """What the inference service hands the predictor for this request (the reference predictor's input)."""
    if "files" in request:
        return next(iter(request["files"].values()))[1]
    if project_type == "text_classification":
        return request["json"]["text"].encode()
    return json.dumps(request["json"]["data"]["req_data"]).encode()


async def reference_prediction(
    e2e, model_id: str, version: str, project_type: str, request: dict, tmp: Path
) -> dict:
    """The exported package's own predictor on the same payload: serving must answer exactly this."""
    response = await e2e.client.get(f"/v1/models/{model_id}/versions/{version}/export")
    assert response.status_code == 200, response.text
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        archive.extractall(tmp, filter="data")
    package_dir = next(p.parent for p in tmp.rglob("manifest.json"))
    return load_predictor(package_dir).predict(_payload(project_type, request))


DECIMAL = re.compile(r"\d+\.(\d+)")


def same_answer(a, b) -> bool:
    """Equal structure, labels and strings; numbers equal up to 1e-5 (the serving venv's numpy 1.26 may differ
    from the tests' numpy 2 in the last bits of an FFT or a softmax). Confidences and box coordinates are
    decimal strings (ADR 0022): two values 1e-5 apart may print one unit of the last decimal apart when they
    lie by a rounding boundary, so such strings are equal up to that unit, and written with as many decimals."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_answer(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_answer(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b) <= 1e-5
    if (
        isinstance(a, str)
        and isinstance(b, str)
        and (da := DECIMAL.fullmatch(a))
        and (db := DECIMAL.fullmatch(b))
    ):
        places = len(da.group(1))
        return places == len(db.group(1)) and abs(float(a) - float(b)) <= 1.0001 * 10**-places
    return a == b


def numbers_of(answer: dict) -> dict:
    """What ``?numbers=true`` answers for ``answer``: its decimal strings as numbers, tables as they are."""
    out = dict(answer)
    if "score" in out:
        out["score"] = float(out["score"])
    if "scores" in out:
        out["scores"] = [[label, float(score)] for label, score in out["scores"]]
    if "detection_scores" in out:
        out["detection_scores"] = [float(score) for score in out["detection_scores"]]
        out["detection_boxes"] = [[float(v) for v in box] for box in out["detection_boxes"]]
    return out


def _guide_decimal(value: object, places: int) -> float:
    """A confidence or box coordinate as the guide writes it: a decimal string with ``places`` decimals."""
    assert isinstance(value, str) and re.fullmatch(rf"\d+\.\d{{{places}}}", value), value
    return float(value)


def assert_documented_format(project_type: str, body: dict) -> None:
    """The guide's shapes and types: confidences "0.972", box coordinates "60.89" (ADR 0022)."""
    if project_type == "image_classification":
        assert isinstance(body["predicted_label"], str)
        assert body["scores"] and all(len(pair) == 2 for pair in body["scores"])
        assert all(0 <= _guide_decimal(score, 3) <= 1 for _, score in body["scores"])
    elif project_type == "object_detection":
        assert set(body) >= {"detection_classes", "detection_boxes", "detection_scores"}
        assert len(body["detection_classes"]) == len(body["detection_boxes"]) == len(body["detection_scores"])
        assert all(0 <= _guide_decimal(score, 3) <= 1 for score in body["detection_scores"])
        for box in body["detection_boxes"]:
            y_min, x_min, y_max, x_max = (_guide_decimal(v, 2) for v in box)
            assert y_min <= y_max and x_min <= x_max
    elif project_type in ("sound_classification", "text_classification"):
        assert isinstance(body["predicted_label"], str) and 0 <= _guide_decimal(body["score"], 3) <= 1
        assert body["scores"][0] == [body["predicted_label"], body["score"]]
        assert all(0 <= _guide_decimal(score, 3) <= 1 for _, score in body["scores"])
    else:
        rows = body["data"]["resp_data"]
        assert len(rows) == 2 and all("predict" in row for row in rows)


@pytest.mark.parametrize("mode", ["distributed", "embedded"])
@pytest.mark.parametrize("project_type", TASK_TYPES)
async def test_project_end_to_end(project_type: str, mode: str, e2e_factory, tmp_path) -> None:
    # detection gets the quality-gate e2e's 30 s: with 20 s, at load 4, one round missed the gate
    e2e = await e2e_factory(mode, **({"budget": 30} if project_type == "object_detection" else {}))
    project = await e2e.create_project(project_type)
    pid = project["id"]

    # Round 1: label (a user relabels one sample), Next, and the services take it from there.
    if project_type != "predictive_analytics":
        await e2e.wait_labeled(project)
        await e2e.relabel_one(project)
        await e2e.ok("POST", f"/v1/projects/{pid}/workflow/next")
    round1 = await e2e.wait_phase(pid, "deploy_service", "awaiting_input")
    phases = {p["name"]: p for p in round1["execution"]["phases"]}
    assert phases["register_model"]["outputs"]["model_version"] == "0.0.1"
    metrics = phases["train"]["outputs"]["metrics"]
    assert metrics, "training reported no metrics"
    model_id = phases["register_model"]["outputs"]["model_id"]

    await e2e.ok(
        "POST",
        f"/v1/projects/{pid}/workflow/deploy",
        json={"schedule": {"type": "stop", "time_unit": "HOURS", "duration": 2}},
    )
    deployed = await e2e.wait_phase(pid, "deploy_service", "executed", timeout=180)
    assert deployed["execution"]["status"] == "completed"
    service_id = deployed["service_id"]
    service = await e2e.ok("GET", f"/v1/services/{service_id}")
    assert service["status"] == "running"
    request = _predict_request(project_type)
    predicted = await e2e.ok("POST", f"/v1/infers/{service_id}", **request)
    assert_documented_format(project_type, predicted)
    # Through Triton the answer is exactly what the package's reference predictor gives.
    reference = await reference_prediction(e2e, model_id, "0.0.1", project_type, request, tmp_path / "pkg")
    assert same_answer(predicted, reference), (predicted, reference)
    # ?numbers=true: the same answer, its confidences and coordinates JSON numbers of the same values
    as_numbers = await e2e.ok("POST", f"/v1/infers/{service_id}", params={"numbers": "true"}, **request)
    assert as_numbers == numbers_of(predicted), (as_numbers, predicted)

    # Round 2 → 0.0.2, deployed beside 0.0.1 at 80/20.
    await e2e.ok("POST", f"/v1/projects/{pid}/executions", json={})
    if project_type != "predictive_analytics":
        await e2e.wait_phase(pid, "label_data", "awaiting_operation")
        await e2e.ok("POST", f"/v1/projects/{pid}/workflow/next")
    round2 = await e2e.wait_phase(pid, "deploy_service", "awaiting_input")
    assert {p["name"]: p for p in round2["execution"]["phases"]}["register_model"]["outputs"][
        "model_version"
    ] == "0.0.2"
    config = [
        {"model_id": model_id, "model_version": "0.0.1", "weight": 80, "specification": "cpu"},
        {"model_id": model_id, "model_version": "0.0.2", "weight": 20, "specification": "cpu"},
    ]
    await e2e.ok("POST", f"/v1/projects/{pid}/workflow/deploy", json={"config": config})
    await e2e.wait_phase(pid, "deploy_service", "executed", timeout=180)
    service = await e2e.ok("GET", f"/v1/services/{service_id}")
    assert sorted((c["model_version"], c["weight"]) for c in service["config"]) == [
        ("0.0.1", 80),
        ("0.0.2", 20),
    ]
    for _ in range(5):
        assert_documented_format(
            project_type, await e2e.ok("POST", f"/v1/infers/{service_id}", **_predict_request(project_type))
        )
    versions = await e2e.ok("GET", f"/v1/models/{model_id}/versions")
    assert sorted(v["model_version"] for v in versions["items"]) == ["0.0.1", "0.0.2"]

    # Stop: the service stops and a prediction is refused with a clear 4xx.
    await e2e.ok("PUT", f"/v1/services/{service_id}", json={"status": "stopped"})
    await e2e.wait_service(service_id, "stopped")
    refused = await e2e.client.post(f"/v1/infers/{service_id}", **_predict_request(project_type))
    assert 400 <= refused.status_code < 500, refused.text
