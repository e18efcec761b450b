"""The object detection engine on generated scenes (no infrastructure): a real detector beats the trivial
per-class mean box, boxes come back as ``[y_min, x_min, y_max, x_max]`` in original pixels, stops package
the best epoch at once, the package predicts through ``load_predictor`` what was reported, incremental
training warm-starts, and the metrics' matching rules.

The scenes are ``shared.testing.datagen.detection_files`` (two or three classes of coloured shapes on noise,
PASCAL VOC labels) moved into a wider noisy canvas (96 x 64): a non-square original catches x/y swaps and
letterbox scaling mistakes.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trainer.engines.base import Sample, TrainContext, TrainingParams, VersionData
from trainer.engines.object_detection.data import read_voc, voc_samples
from trainer.engines.object_detection.engine import DataError, ObjectDetectionEngine, _candidates
from trainer.engines.object_detection.metrics import (
    Truth,
    confusion,
    detection_metrics,
    mean_average_precision,
)

from shared.packages import PredictionInputError, load_predictor
from shared.packages.detection import DetectionPredictor, Detections
from shared.testing.datagen import detection_files, png, voc_xml

CLASSES = ("red", "blue", "green")
WIDTH, HEIGHT, SHIFT = 96, 64, 32  # scenes of 64 x 64 pasted at x = 32 into a 96 x 64 noisy image


def _wide_files(images: int, seed: int) -> dict[str, bytes]:
    """``detection_files`` scenes widened to 96 x 64 (noise on the left), their VOC boxes shifted to match."""
    rng = np.random.default_rng(seed + 100)
    out: dict[str, bytes] = {}
    files = detection_files(images=images, size=64, seed=seed, classes=CLASSES)
    for name, data in files.items():
        if not name.endswith(".png"):
            continue
        canvas = Image.fromarray(rng.integers(90, 160, (HEIGHT, WIDTH, 3), dtype=np.uint8))
        canvas.paste(Image.open(io.BytesIO(data)).convert("RGB"), (SHIFT, 0))
        _, boxes = read_voc(files[name[:-4] + ".xml"])
        objects = [(label, int(b[0]) + SHIFT, int(b[1]), int(b[2]) + SHIFT, int(b[3])) for label, b in boxes]
        out[name] = png(canvas)
        out[name[:-4] + ".xml"] = voc_xml(name, WIDTH, HEIGHT, objects)
    return out


def _context(
    root: Path, train: list[Sample], evaluation: list[Sample], budget: float, **params
) -> TrainContext:
    extra = dict(params.pop("extra", {}))
    return TrainContext(
        params=TrainingParams(extra=extra, **params),
        data=VersionData(
            task_type="object_detection",
            labels=list(CLASSES),
            train=train,
            eval=evaluation,
            dataset={"dataset_id": "d1", "version_id": "v1", "version_name": "V001"},
        ),
        work_dir=root / "work",
        package_dir=root / "package",
        deadline=time.monotonic() + budget,
        packaging_margin_seconds=3.0,
    )


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> dict[str, list[Sample]]:
    root = tmp_path_factory.mktemp("scenes")
    return {
        "train": voc_samples(root / "train", _wide_files(40, seed=1)),
        "eval": voc_samples(root / "eval", _wide_files(16, seed=2)),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, scenes):
    root = tmp_path_factory.mktemp("trained")
    ctx = _context(
        root,
        scenes["train"],
        scenes["eval"],
        budget=45.0,
        preference="performance_first",
        extra={"max_epochs": 80},
    )
    started = time.monotonic()
    result = ObjectDetectionEngine().train(ctx)
    return ctx, result, time.monotonic() - started


def _truths(samples: list[Sample]) -> list[Truth]:
    return [
        Truth(np.array([b for _, b in s.boxes]), np.array([CLASSES.index(n) for n, _ in s.boxes]))
        for s in samples
    ]


def _mean_box_baseline(train: list[Sample], evaluation: list[Sample]) -> list[Detections]:
    """The trivial detector: every image gets each class's mean training box, all with score 1."""
    means = {
        c: np.mean([b for n, b in [x for s in train for x in s.boxes] if n == c], axis=0) for c in CLASSES
    }
    boxes = np.stack([means[c] for c in CLASSES])
    return [Detections(boxes, np.ones(len(CLASSES)), np.arange(len(CLASSES))) for _ in evaluation]


def test_detector_beats_the_mean_box_baseline_through_its_predictor(trained, scenes) -> None:
    ctx, result, seconds = trained
    metrics = result.metrics
    baseline = mean_average_precision(
        _mean_box_baseline(scenes["train"], scenes["eval"]), _truths(scenes["eval"]), len(CLASSES)
    )
    assert metrics["map_50"] >= 0.7 and metrics["map_50"] > baseline["map_50"] + 0.5, (metrics, baseline)
    assert metrics["map"] > baseline["map"] + 0.3
    assert (
        seconds < 45.0 * 1.05
        and result.engine == "object_detection"
        and result.candidate == "centernet-scratch8@96"
    )
    # The quality report: mAP@0.5 of the package against the stronger of the mean box and the prior boxes
    # on the same validation images.
    assert result.quality is not None and result.quality.metric == "map_50"
    assert result.quality.model == pytest.approx(metrics["map_50"])
    assert result.quality.trivial.name in ("mean box", "prior boxes")
    assert result.quality.trivial.score < 0.2 and result.quality.simple is None
    # The plan says what was measured and chosen.
    assert result.plan["candidate"] == result.candidate and result.plan["measured"][0]["step_ms"] > 0
    assert result.plan["data"]["train_images"] == 40 and result.plan["epochs"] >= 1
    # The package, loaded the way serving loads it, gives the reported mAP on the validation images.
    predictor = load_predictor(ctx.package_dir)
    assert isinstance(predictor, DetectionPredictor)
    found = predictor.detect_batch([Path(s.path).read_bytes() for s in scenes["eval"]], score_threshold=0.01)
    again = mean_average_precision(found, _truths(scenes["eval"]), len(CLASSES))
    assert again["map"] == pytest.approx(metrics["map"]) and again["map_50"] == pytest.approx(
        metrics["map_50"]
    )
    # The seed statistics are those of the served answers (score >= the manifest's threshold).
    answers = predictor.predict_batch([Path(s.path).read_bytes() for s in scenes["eval"]])
    served = [  # boxes and scores are decimal strings (ADR 0022)
        Detections(
            np.array([[b[1], b[0], b[3], b[2]] for b in a["detection_boxes"]], dtype=np.float64).reshape(
                -1, 4
            ),
            np.array(a["detection_scores"], dtype=np.float64),
            np.array([CLASSES.index(c) for c in a["detection_classes"]]),
        )
        for a in answers
    ]
    table = np.array(metrics["confusion_matrix"]["matrix"])
    assert table[:, :3].sum(axis=0).tolist() == [
        sum(d.classes.tolist().count(c) for d in served) for c in range(3)
    ]
    # Seed statistics at the serving threshold, a confusion table with a background row/column.
    assert metrics["f1"] > 0.7 and metrics["accuracy"] > 0.6 and metrics["eval_count"] == 16
    assert [p["label"] for p in metrics["per_class"]] == list(CLASSES)
    assert {"precision", "recall", "f1", "support", "ap", "ap_50"} <= set(metrics["per_class"][0])
    table = metrics["confusion_matrix"]
    assert table["labels"] == [*CLASSES, "background"] and np.array(table["matrix"]).shape == (4, 4)
    assert np.array(table["matrix"])[:3].sum() == metrics["object_count"]
    assert ctx.curves["training"] and "map_50" in ctx.curves["training"][-1]


def test_boxes_are_ymin_xmin_ymax_xmax_in_original_pixels(trained, scenes) -> None:
    ctx, _, _ = trained
    predictor = load_predictor(ctx.package_dir)
    hits = 0
    for sample in scenes["eval"]:
        answer = predictor.predict(Path(sample.path).read_bytes())
        assert set(answer) == {"detection_classes", "detection_boxes", "detection_scores"}
        assert (
            len(answer["detection_classes"])
            == len(answer["detection_boxes"])
            == len(answer["detection_scores"])
        )
        # the guide's decimal strings (ADR 0022): scores with 3 decimals, coordinates with 2
        assert all(re.fullmatch(r"[01]\.\d{3}", v) for v in answer["detection_scores"])
        assert all(re.fullmatch(r"\d+\.\d{2}", v) for box in answer["detection_boxes"] for v in box)
        scores = [float(v) for v in answer["detection_scores"]]
        boxes = [[float(v) for v in box] for box in answer["detection_boxes"]]
        assert scores == sorted(scores, reverse=True)
        for y_min, x_min, y_max, x_max in boxes:
            assert 0 <= x_min <= x_max <= WIDTH and 0 <= y_min <= y_max <= HEIGHT
        for label, (x1, y1, x2, y2) in sample.boxes:
            for cls, (y_min, x_min, y_max, x_max) in zip(answer["detection_classes"], boxes):
                inter = max(0, min(x2, x_max) - max(x1, x_min)) * max(0, min(y2, y_max) - max(y1, y_min))
                union = (x2 - x1) * (y2 - y1) + (x_max - x_min) * (y_max - y_min) - inter
                if cls == label and inter / union >= 0.5:
                    hits += 1
                    break
    objects = sum(len(s.boxes) for s in scenes["eval"])
    assert hits >= 0.8 * objects, (hits, objects)
    # The same image given as JPEG and as BMP finds the same objects; a batch answers like single calls.
    image = Image.open(scenes["eval"][0].path)
    payloads = [Path(scenes["eval"][0].path).read_bytes()]
    for fmt in ("BMP", "JPEG"):
        out = io.BytesIO()
        image.save(out, format=fmt, quality=95)
        payloads.append(out.getvalue())
    png_answer, bmp_answer, jpeg_answer = predictor.predict_batch(payloads)
    assert bmp_answer == png_answer
    for cls, box, score in zip(*png_answer.values()):
        if float(score) >= 0.6:  # confident detections survive JPEG compression
            assert any(
                c == cls and _iou([float(v) for v in b], [float(v) for v in box]) >= 0.5
                for c, b in zip(jpeg_answer["detection_classes"], jpeg_answer["detection_boxes"])
            )
    with pytest.raises(PredictionInputError) as info:
        predictor.predict(payloads[0][:200])
    assert info.value.rule == "image_decode"


def _iou(a: list[float], b: list[float]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_package_contents(trained) -> None:
    ctx, result, _ = trained
    manifest = json.loads((ctx.package_dir / "manifest.json").read_text())
    assert manifest["task_type"] == "object_detection" and manifest["labels"] == list(CLASSES)
    assert manifest["artifacts"] == {"model": "model.onnx", "weights": "model.pt"}
    assert (
        manifest["preprocessing"]["image_size"] == [96, 96]
        and manifest["preprocessing"]["resize"] == "letterbox"
    )
    check = manifest["model"]["onnx_check"]
    assert (
        check["opset"] >= 17
        and check["max_abs_diff"]["scores"] < 1e-3
        and check["max_abs_diff"]["boxes"] < 0.1
    )
    assert manifest["model"]["best_epoch"] >= 1 and manifest["model"]["init"]["weights"] == "random"
    assert manifest["metrics"]["map_50"] == pytest.approx(result.metrics["map_50"])
    assert manifest["model"]["latency_ms"]["value"] > 0
    assert (ctx.package_dir / "model.pt").is_file()


def test_incremental_training_starts_from_the_previous_model(trained, scenes, tmp_path) -> None:
    ctx, _, _ = trained
    warm = _context(
        tmp_path,
        scenes["train"],
        scenes["eval"],
        budget=12.0,
        preference="performance_first",
        incremental_package_dir=ctx.package_dir,
        extra={"max_epochs": 2},
    )
    again = ObjectDetectionEngine().train(warm)
    manifest = json.loads((warm.package_dir / "manifest.json").read_text())
    assert manifest["model"]["init"]["weights"] == "incremental" and manifest["parameters"]["incremental"]
    # Two epochs from scratch reach little; from the previous model the detector is good at once.
    assert warm.curves["training"][0]["map_50"] > 0.6 and again.metrics["map_50"] > 0.6


def test_stop_mid_training_packages_the_best_epoch_quickly(scenes, tmp_path, monkeypatch) -> None:
    from trainer.engines.object_detection import data as detection_data

    monkeypatch.setattr(detection_data, "MEMORY_LIMIT_BYTES", 0)  # canvases memory-mapped, as for big sets
    epochs: list[dict] = []
    ctx = _context(tmp_path, scenes["train"][:16], scenes["eval"][:6], budget=600.0)
    ctx.on_progress = lambda percent, phase, metric: (
        epochs.append(metric) if phase == "training" and metric and "epoch" in metric else None
    )
    stop_at: list[float] = []

    def stop() -> bool:
        if len(epochs) >= 2 and not stop_at:
            stop_at.append(time.monotonic())
        return bool(stop_at)

    ctx.stop_requested = stop
    result = ObjectDetectionEngine().train(ctx)
    assert result.stopped_early and stop_at and time.monotonic() - stop_at[0] < 30.0
    assert len(ctx.curves["training"]) == 2
    best = max(p["map_50"] for p in ctx.curves["training"])
    manifest = json.loads((ctx.package_dir / "manifest.json").read_text())
    assert manifest["model"]["selection"]["map_50"] == pytest.approx(best, abs=1e-4)
    assert load_predictor(ctx.package_dir).predict(Path(scenes["eval"][0].path).read_bytes())
    assert list(ctx.work_dir.glob("canvases-*/*.npy"))


def test_pretrained_backbone_and_a_stop_before_the_first_epoch(scenes, tmp_path, monkeypatch) -> None:
    import timm
    import torch

    folder = tmp_path / "pretrained"
    folder.mkdir()
    torch.save(timm.create_model("resnet10t", pretrained=False).state_dict(), folder / "resnet10t.pth")
    monkeypatch.setenv("EXEML_PRETRAINED_DIR", str(folder))
    ctx = _context(tmp_path, scenes["train"][:8], scenes["eval"][:4], budget=600.0)
    ctx.stop_requested = lambda: True
    started = time.monotonic()
    result = ObjectDetectionEngine().train(ctx)
    assert result.stopped_early and time.monotonic() - started < 30.0
    init = json.loads((ctx.package_dir / "manifest.json").read_text())["model"]["init"]
    assert init["weights"] == "pretrained" and init["pretrained_file"] == "resnet10t.pth"
    assert init["loaded_tensors"] == init["backbone_tensors"]
    assert "map_50" in result.metrics and load_predictor(ctx.package_dir).predict(
        Path(scenes["eval"][0].path).read_bytes()
    )


def test_rules_that_fail_the_job(scenes, tmp_path) -> None:
    with pytest.raises(DataError, match="validation"):
        ObjectDetectionEngine().train(_context(tmp_path, scenes["train"], [], budget=30.0))
    with pytest.raises(DataError, match="max_inference"):
        ObjectDetectionEngine().train(
            _context(tmp_path, scenes["train"][:4], scenes["eval"][:2], budget=30.0, max_inference_ms=0.01)
        )
    unboxed = [Sample(sample_id=s.sample_id, labels=[], path=s.path) for s in scenes["train"]]
    with pytest.raises(DataError, match="boxes"):
        ObjectDetectionEngine().train(_context(tmp_path, unboxed, scenes["eval"], budget=30.0))


def test_preference_picks_the_candidate(scenes, tmp_path) -> None:
    def names(preference: str) -> list[str]:
        ctx = _context(tmp_path, scenes["train"], scenes["eval"], budget=30.0, preference=preference)
        return [c.name for c in _candidates(ctx, None)]

    # images are 96 wide: no upscaling; from-scratch networks only (no pretrained weights, no GPU here)
    # and the narrowest at a smaller size (0.8 x 96 -> 64: the 13 px boxes stay above 8 px there)
    assert names("performance_first") == ["centernet-scratch8@96", "centernet-scratch8@64"]
    assert names("balance") == ["centernet-scratch16@96", "centernet-scratch8@96", "centernet-scratch8@64"]
    assert names("accuracy_first")[0] == "centernet-scratch24@96"


def test_metrics_matching_rules() -> None:
    truth = [Truth(np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50.0]]), np.array([0, 1, 1]))]
    found = [
        Detections(
            np.array([[0, 0, 10, 10], [20, 20, 30, 31], [60, 60, 70, 70], [1, 1, 10, 10.0]]),
            np.array([0.9, 0.8, 0.7, 0.2]),
            np.array([0, 0, 1, 0]),
        )
    ]
    matrix = confusion(found, truth, 2, 0.5)
    # rows truth (a, b, background), columns detection: a found; b taken for an a; b missed; a false alarm;
    # the 0.2 duplicate is under the threshold.
    assert matrix.tolist() == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]
    metrics = detection_metrics(found, truth, ["a", "b"], 0.5)
    assert metrics["accuracy"] == pytest.approx(1 / 4)
    assert (
        metrics["per_class"][0]["precision"] == pytest.approx(0.5) and metrics["per_class"][1]["recall"] == 0
    )
    perfect = mean_average_precision([Detections(truth[0].boxes, np.ones(3), truth[0].classes)], truth, 2)
    assert perfect["map"] == pytest.approx(1.0) and perfect["map_50"] == pytest.approx(1.0)


def test_map_follows_coco_interpolation() -> None:
    # two objects; detections ranked hit, false alarm, hit: precision 1 up to recall 0.5, then 2/3
    truth = [Truth(np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), np.array([0, 0]))]
    found = [
        Detections(
            np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30.0]]),
            np.array([0.9, 0.8, 0.7]),
            np.array([0, 0, 0]),
        )
    ]
    result = mean_average_precision(found, truth, 2)  # class 1 has no true box: left out of the mean
    assert result["map_50"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert result["ap50_per_class"][1] == 0.0
    assert mean_average_precision([Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0))], truth, 2)[
        "map_50"
    ] == pytest.approx(0.0)


def test_plan_takes_the_widest_candidate_that_gets_enough_epochs() -> None:
    from trainer.engines.object_detection.plan import MIN_EPOCHS, Candidate, choose

    wide, narrow = Candidate("scratch16", 160, 32), Candidate("scratch8", 160, 32)
    steps = {wide: 0.25, narrow: 0.125}  # seconds per step of 16 images; 192 images: 12 steps an epoch
    roomy = choose([wide, narrow], steps, 360.0, 192, 16, 300)
    assert roomy.candidate == wide and roomy.epochs == 120 >= MIN_EPOCHS and roomy.epoch_cap == 300
    short = choose([wide, narrow], steps, 60.0, 192, 16, 300)
    assert short.candidate == narrow and short.epochs == 40 and "none gets" in short.why
    assert choose([wide, narrow], steps, 360.0, 192, 16, 20).epochs == 20  # the preference's cap


def test_the_prior_boxes_baseline_finds_objects_that_always_sit_in_the_same_place(tmp_path) -> None:
    from trainer.engines.object_detection.engine import prior_boxes_baseline
    from trainer.engines.object_detection.metrics import Truth

    def sample(i: int, box: tuple[float, float, float, float]) -> Sample:
        return Sample(f"s{i}", ["dot"], tmp_path / f"{i}.png", boxes=[("dot", box)], width=64, height=64)

    fixed = [sample(i, (10.0, 10.0, 30.0, 30.0)) for i in range(6)]
    ctx = TrainContext(
        params=TrainingParams(),
        data=VersionData("object_detection", ["dot"], fixed[:4], fixed[4:]),
        work_dir=tmp_path,
        package_dir=tmp_path,
        deadline=0.0,
    )
    truths = [Truth(np.array([[10.0, 10.0, 30.0, 30.0]]), np.array([0])) for _ in fixed[4:]]
    assert prior_boxes_baseline(ctx, ["dot"], truths) == pytest.approx(1.0)
    elsewhere = [Truth(np.array([[40.0, 40.0, 60.0, 60.0]]), np.array([0])) for _ in fixed[4:]]
    assert prior_boxes_baseline(ctx, ["dot"], elsewhere) == 0.0
