"""The object detection predictor on a hand-built ONNX package (no torch): decode rules, letterbox inverse,
threshold, per-class NMS, the ModelArts response shape (``[y_min, x_min, y_max, x_max]``, original
pixels)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.packages import PackageError, PredictionInputError, load_predictor, write_manifest
from shared.packages.detection import DetectionPredictor, letterbox, nms
from shared.testing.model_packages import onnx_bytes
from shared.testing.packages_by_type import detection_manifest
from shared.testing.processes import python_output

SIZE = 32  # model input 32 x 32, maps at stride 4: 8 x 8
LABELS = ["cat", "dog"]


def _outputs() -> tuple[np.ndarray, np.ndarray]:
    """Constant model outputs: what the fake network answers for every image."""
    scores = np.zeros((1, 2, 8, 8), dtype=np.float32)
    boxes = np.zeros((1, 4, 8, 8), dtype=np.float32)
    scores[0, 1, 2, 5] = 0.9  # a dog at canvas (8, 2)-(16, 10)
    boxes[0, :, 2, 5] = [8, 2, 16, 10]
    scores[0, 1, 3, 5] = 0.6  # the same dog again, lower score: suppressed by NMS
    boxes[0, :, 3, 5] = [8, 3, 16, 11]
    scores[0, 0, 3, 5] = 0.5  # a cat on the same place: another class, kept
    boxes[0, :, 3, 5] = [8, 3, 16, 11]
    scores[0, 0, 0, 0] = 0.2  # below the 0.3 threshold
    boxes[0, :, 0, 0] = [0, 0, 4, 4]
    scores[0, 0, 7, 0] = 0.4  # a cat sticking out of the image: clipped
    boxes[0, :, 7, 0] = [-2, 12, 6, 17]
    return scores, boxes


def _build_model(path: Path) -> None:
    """scores/boxes = the constants above broadcast to the batch (0 x the mean of the image + constant)."""
    from onnx import TensorProto, helper, numpy_helper

    scores, boxes = _outputs()
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images", "axes"], ["mean"], keepdims=1),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["nothing", "S"], ["scores"]),
            helper.make_node("Add", ["nothing", "B"], ["boxes"]),
        ],
        "constant-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 2, 8, 8]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["batch", 4, 8, 8]),
        ],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            numpy_helper.from_array(scores, "S"),
            numpy_helper.from_array(boxes, "B"),
        ],
    )
    path.write_bytes(onnx_bytes(graph, 18))


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("detpkg")
    _build_model(folder / "model.onnx")
    write_manifest(folder, detection_manifest(SIZE, LABELS, score_threshold=0.3, max_detections=100))
    return folder


def _image(fmt: str, size: tuple[int, int] = (200, 100)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def test_response_shape_order_and_original_pixels(package: Path) -> None:
    predictor = load_predictor(package)
    assert isinstance(predictor, DetectionPredictor)
    # 200 x 100 (w x h) letterboxed into 32 x 32: scale 0.16, canvas 32 x 16 at the top left.
    answer = predictor.predict(_image("PNG"))
    # Decimal strings as in the ExeML guide (ADR 0022): coordinates with 2 decimals, scores with 3.
    assert answer == {
        "detection_classes": ["dog", "cat", "cat"],
        # canvas (8, 2)-(16, 10) / 0.16 = x 50..100, y 12.5..62.5 → [y_min, x_min, y_max, x_max]
        "detection_boxes": [
            ["12.50", "50.00", "62.50", "100.00"],
            ["18.75", "50.00", "68.75", "100.00"],
            ["75.00", "0.00", "100.00", "37.50"],
        ],
        "detection_scores": ["0.900", "0.500", "0.400"],
    }
    assert all(isinstance(v, str) for box in answer["detection_boxes"] for v in box)


def test_formats_batches_and_raw_detections(package: Path) -> None:
    predictor = load_predictor(package)
    answers = predictor.predict_batch([_image("JPEG"), _image("BMP"), _image("PNG", (100, 200))])
    assert answers[0] == answers[1]
    # A tall image: scale 0.16 again, the box lands at x 50..100, y 12.5..62.5 as well.
    assert answers[2]["detection_boxes"][0] == ["12.50", "50.00", "62.50", "100.00"]
    raw = predictor.detect_batch([_image("PNG")], score_threshold=0.1)[0]
    assert raw.scores.tolist() == pytest.approx([0.9, 0.5, 0.4, 0.2])
    assert raw.boxes.shape == (4, 4) and raw.classes.tolist() == [1, 0, 0, 0]
    assert predictor.predict_batch([]) == []


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"", "image_empty"),
        (b"not an image at all", "image_decode"),
        (_image("PNG")[:60], "image_decode"),
        (_image("GIF"), "image_format"),
    ],
)
def test_bad_images_raise_typed_errors(package: Path, payload: bytes, rule: str) -> None:
    with pytest.raises(PredictionInputError) as info:
        load_predictor(package).predict(payload)
    assert info.value.rule == rule and info.value.field == "images"


def test_package_errors(tmp_path: Path, package: Path) -> None:
    write_manifest(
        tmp_path,
        {
            "task_type": "object_detection",
            "labels": LABELS,
            "artifacts": {"model": "model.onnx"},
            "preprocessing": {"image_size": [SIZE, SIZE], "mean": [0] * 3, "std": [1] * 3},
        },
    )
    with pytest.raises(PackageError, match="missing"):
        load_predictor(tmp_path)
    write_manifest(
        tmp_path,
        {
            "task_type": "object_detection",
            "labels": LABELS,
            "artifacts": {"model": "m"},
            "preprocessing": {"image_size": [SIZE, SIZE]},
        },
    )
    with pytest.raises(PackageError, match="mean"):
        load_predictor(tmp_path)


def test_letterbox_and_nms() -> None:
    canvas, scale = letterbox(
        Image.new("RGB", (64, 16), (255, 0, 0)), {"image_size": [32, 32], "pad_value": 7}
    )
    assert scale == (0.5, 0.5) and canvas.shape == (32, 32, 3)
    assert canvas[:8, :, 0].min() == 255 and canvas[8:].max() == 7
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9.0]])
    assert nms(boxes, np.array([0.5, 0.9, 0.4, 0.3]), 0.5).tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.4, 0.3]), 0.95).tolist() == [1, 0, 2, 3]


def test_predictor_imports_no_torch(package: Path) -> None:
    """Serving has numpy, Pillow and onnxruntime only: the predictor must not pull in torch or the trainer."""
    code = (
        "import sys; from shared.packages import load_predictor; "
        f"p = load_predictor({str(package)!r}); "
        "import io; from PIL import Image; b = io.BytesIO(); Image.new('RGB', (8, 8)).save(b, 'PNG'); "
        "p.predict(b.getvalue()); "
        "bad = [m for m in ('torch', 'torchvision', 'timm', 'trainer', 'pydantic', 'sklearn') "
        "if m in sys.modules]; "
        "assert not bad, bad"
    )
    python_output(code)
