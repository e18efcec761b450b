"""The quality gate through the public API, for each of the five project types (distributed setting).

* On small learnable generated data, a round trains, passes the gate (its record is on the job and on the
  Train phase), deploys, and the deployed model beats the trivial baseline on held-out inputs asked through
  ``POST /v1/infers/{id}`` — by more than the noise of those inputs (the gate's own rule).
* On data whose inputs say nothing about their labels, the round's Train phase fails with the gate's
  message and what helps; the model is never registered. Images, clips, texts and detection images: every
  sample's input is the same file (its labels and boxes kept), so any model answers the same for all of
  them and scores the validation split's share of one class, never beyond the baseline's noise. Tables:
  labels shuffled across rows (a column of one value is no feature, and the engine refuses a table
  without one). Shuffled labels on varied inputs are a *random* draw that a correct 5 % test passes 5 %
  of the time, by design (CI, 5 December: the hand-feature regression scored 6 of 9 shuffled images, the
  gate's threshold, a 4 % tail); the gate's own tests (services/trainer/tests/test_quality_gate.py) and
  the engines' shuffled-label tests cover that case.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter

import pytest
from trainer.engines.base import Baseline, QualityReport
from trainer.quality import QUALITY_ERROR, judge

from shared.packages import TASK_TYPES
from shared.testing import datagen
from shared.testing.platform import wait_until

# Enough samples that the validation split can show a lead beyond noise (the gate's binomial test).
LEARNABLE = {
    "image_classification": lambda seed: datagen.image_classification_files(per_class=15, seed=seed),
    "object_detection": lambda seed: datagen.detection_files(images=30, seed=seed),
    "sound_classification": lambda seed: datagen.sound_files(per_class=20, seed=seed),
    "text_classification": lambda seed: datagen.text_files(per_class=40, seed=seed),
    "predictive_analytics": lambda seed: datagen.table_files(rows=300, seed=seed),
}
PROBE_SEED = 99
# A job's budget here: the child's start and the engine's imports take seconds before any training (13-15 s
# were measured on 2 cores under load 10); what is left must still train a model that shows it learnt.
BUDGET_SECONDS = 30


# -- unlearnable data: inputs that say nothing about the labels -------------------------------------------
def unlearnable(project_type: str, files: dict[str, bytes], seed: int = 7) -> dict[str, bytes]:
    if project_type == "sound_classification":  # <label>/clip.wav: every clip the first one's sound
        first = next(iter(files.values()))
        return {path: first for path in files}
    if project_type == "text_classification":  # every line of the corpus the first line's text
        texts = files["corpus.txt"].decode().splitlines()
        return {**files, "corpus.txt": ("\n".join([texts[0]] * len(texts)) + "\n").encode()}
    if project_type in ("image_classification", "object_detection"):  # every image the first image
        annotation = ".txt" if project_type == "image_classification" else ".xml"
        images = sorted(p for p in files if not p.endswith(annotation))
        return {p: files[images[0]] if p in images else d for p, d in files.items()}
    return shuffled_rows(files, seed)


def shuffled_rows(files: dict[str, bytes], seed: int) -> dict[str, bytes]:
    """A table's labels shuffled across its rows."""
    rows = list(csv.reader(io.StringIO(files["data/table.csv"].decode())))
    labels = [r[-1] for r in rows[1:]]
    random.Random(seed).shuffle(labels)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [rows[0], *[[*r[:-1], lab] for r, lab in zip(rows[1:], labels)]]
    )
    return {"data/table.csv": out.getvalue().encode()}


# -- held-out inputs, the deployed model's answers, the trivial baseline's --------------------------------
def probes(project_type: str) -> list[tuple[dict, object]]:
    """(request, truth) pairs generated with another seed than the training data."""
    if project_type == "image_classification":
        files = datagen.image_classification_files(per_class=8, seed=PROBE_SEED)
        return [
            (
                {"files": {"images": ("probe.png", files[p], "image/png")}},
                files[p[:-4] + ".txt"].decode().strip(),
            )
            for p in sorted(files)
            if p.endswith(".png")
        ]
    if project_type == "object_detection":
        files = datagen.detection_files(images=10, seed=PROBE_SEED)
        return [
            ({"files": {"images": ("probe.png", files[p], "image/png")}}, _boxes(files[p[:-4] + ".xml"]))
            for p in sorted(files)
            if p.endswith(".png")
        ]
    if project_type == "sound_classification":
        files = datagen.sound_files(per_class=10, seed=PROBE_SEED)
        return [
            ({"files": {"sound": ("probe.wav", data, "audio/wav")}}, path.split("/")[0])
            for path, data in sorted(files.items())
        ]
    if project_type == "text_classification":
        files = datagen.text_files(per_class=12, seed=PROBE_SEED)
        texts = files["corpus.txt"].decode().splitlines()
        return [
            ({"json": {"text": t}}, lab)
            for t, lab in zip(texts, files["corpus_result.txt"].decode().splitlines())
        ]
    rows = list(
        csv.DictReader(io.StringIO(datagen.table_files(rows=60, seed=PROBE_SEED)["data/table.csv"].decode()))
    )
    return [
        ({"json": {"data": {"req_data": [{k: v for k, v in r.items() if k != "label"}]}}}, r["label"])
        for r in rows
    ]


def training_truths(project_type: str, files: dict[str, bytes]) -> list[object]:
    if project_type == "image_classification":
        return [files[p].decode().strip() for p in files if p.endswith(".txt")]
    if project_type == "object_detection":
        return [_boxes(files[p]) for p in files if p.endswith(".xml")]
    if project_type == "sound_classification":
        return [p.split("/")[0] for p in files]
    if project_type == "text_classification":
        return files["corpus_result.txt"].decode().splitlines()
    return [r["label"] for r in csv.DictReader(io.StringIO(files["data/table.csv"].decode()))]


def _boxes(xml: bytes) -> list[tuple[str, tuple[float, ...]]]:
    text = xml.decode()
    found = re.findall(
        r"<name>(\w+)</name>.*?<xmin>(\d+)</xmin><ymin>(\d+)</ymin><xmax>(\d+)</xmax>"
        r"<ymax>(\d+)</ymax>",
        text,
    )
    return [(name, tuple(float(v) for v in box)) for name, *box in found]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _found(truth: list, predicted: list) -> int:
    """Objects matched by a predicted box of their class at IoU >= 0.5 (each prediction used once)."""
    left, hits = list(predicted), 0
    for name, box in truth:
        match = next((p for p in left if p[0] == name and _iou(p[1], box) >= 0.5), None)
        if match is not None:
            left.remove(match)
            hits += 1
    return hits


def answer_of(project_type: str, body: dict) -> object:
    if project_type == "predictive_analytics":
        return body["data"]["resp_data"][0]["predict"]
    if project_type == "object_detection":
        # boxes and scores are decimal strings (ADR 0022)
        return [
            (name, (float(box[1]), float(box[0]), float(box[3]), float(box[2])))
            for name, box, score in zip(
                body["detection_classes"], body["detection_boxes"], body["detection_scores"]
            )
            if float(score) >= 0.3
        ]
    return body["predicted_label"]


def trivial_answer(project_type: str, train: list[object]) -> object:
    """Majority class; for detection the mean box of the training boxes, labelled with the commonest class."""
    if project_type != "object_detection":
        return Counter(train).most_common(1)[0][0]
    boxes = [b for image in train for b in image]
    mean = tuple(sum(b[1][i] for b in boxes) / len(boxes) for i in range(4))
    return [(Counter(b[0] for b in boxes).most_common(1)[0][0], mean)]


def score(project_type: str, answers: list[object], truths: list[object]) -> tuple[float, int]:
    """Share of correct answers (detection: of objects found), and the count it is a share of."""
    if project_type == "object_detection":
        objects = sum(len(t) for t in truths)
        return sum(_found(t, a) for a, t in zip(answers, truths)) / objects, objects
    return sum(a == t for a, t in zip(answers, truths)) / len(truths), len(truths)


# -- the round ------------------------------------------------------------------------------------------
async def train_round(e2e, project_type: str, files: dict[str, bytes]) -> tuple[dict, dict]:
    """Create the project, label → Next; the project once its Train phase ended (executed or failed)."""
    project = await e2e.create_project(project_type, files)
    if project_type != "predictive_analytics":
        await e2e.wait_labeled(project)
        await e2e.ok("POST", f"/v1/projects/{project['id']}/workflow/next")

    async def trained():
        current = await e2e.project(project["id"])
        phases = {p["name"]: p for p in current["execution"]["phases"]}
        early = [p for n, p in phases.items() if p["status"] == "failed" and n != "train"]
        assert not early, f"phase {early[0]['name']} failed: {early[0]['error_msg']}"
        print("phases", {n: p["status"] for n, p in phases.items()})  # shown when the wait times out
        return current if phases["train"]["status"] in ("executed", "failed") else None

    current = await wait_until(trained, timeout=300, interval=0.5, what="the Train phase to end")
    return current, {p["name"]: p for p in current["execution"]["phases"]}


@pytest.mark.parametrize("project_type", TASK_TYPES)
async def test_deployed_model_beats_the_trivial_baseline(project_type: str, e2e_factory) -> None:
    e2e = await e2e_factory("distributed", BUDGET_SECONDS)
    files = LEARNABLE[project_type](1)
    project, phases = await train_round(e2e, project_type, files)
    train = phases["train"]
    job = await e2e.ok("GET", f"/v1/training-jobs/{train['instance']['id']}")
    assert train["status"] == "executed", (train["error_msg"], job["logs"][-12:], job["phase_timings"])
    # The gate's record sits beside the metrics, on the job and on the Train phase.
    assert job["quality"] is not None, "the engine reported no quality report: the job was not gated"
    assert job["quality"]["passed"] and train["outputs"]["quality"] == job["quality"]
    assert job["quality"]["model"] >= job["quality"]["required"] > job["quality"]["trivial"]["score"]

    deployed = await e2e.wait_phase(project["id"], "deploy_service", "awaiting_input")
    assert {p["name"]: p for p in deployed["execution"]["phases"]}["register_model"]["outputs"][
        "model_version"
    ]
    await e2e.ok(
        "POST",
        f"/v1/projects/{project['id']}/workflow/deploy",
        json={"schedule": {"type": "stop", "time_unit": "HOURS", "duration": 1}},
    )
    service_id = (await e2e.wait_phase(project["id"], "deploy_service", "executed", timeout=180))[
        "service_id"
    ]
    held_out = probes(project_type)
    answers = [
        answer_of(project_type, await e2e.ok("POST", f"/v1/infers/{service_id}", **request))
        for request, _ in held_out
    ]
    truths = [truth for _, truth in held_out]
    model, n = score(project_type, answers, truths)
    trivial, _ = score(
        project_type,
        [trivial_answer(project_type, training_truths(project_type, files))] * len(truths),
        truths,
    )
    verdict = judge(QualityReport("share correct", True, model, Baseline("trivial", trivial)), n)
    assert verdict.passed, verdict.message
    await e2e.ok("PUT", f"/v1/services/{service_id}", json={"status": "stopped"})


@pytest.mark.parametrize("project_type", TASK_TYPES)
async def test_quality_gate_fails_a_round_on_unlearnable_data(project_type: str, e2e_factory) -> None:
    e2e = await e2e_factory("distributed", BUDGET_SECONDS)
    project, phases = await train_round(
        e2e, project_type, unlearnable(project_type, LEARNABLE[project_type](1))
    )
    train = phases["train"]
    assert train["status"] == "failed", f"a model of uninformative inputs passed the gate: {train['outputs']}"
    assert "does not beat the trivial baseline" in train["error_msg"], train["error_msg"]
    assert (
        "more labeled data per class" in train["error_msg"] and "longer training budget" in train["error_msg"]
    )
    job = await e2e.ok("GET", f"/v1/training-jobs/{train['instance']['id']}")
    assert job["status"] == "failed" and job["error_code"] == QUALITY_ERROR
    assert job["quality"]["passed"] is False and job["package_uri"] is None
    assert phases["register_model"]["status"] == "init" and not phases["register_model"]["outputs"]
    models = await e2e.ok("GET", "/v1/models")
    assert not [m for m in models["items"] if m["project_id"] == project["id"]], models
