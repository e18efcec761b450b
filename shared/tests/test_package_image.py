"""The image classification predictor on a hand-built ONNX package (no torch): decode rules, pre-processing,
the ModelArts ExeML response shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.packages import PackageError, PredictionInputError, load_predictor, write_manifest
from shared.packages.image import ImageClassificationPredictor, decode_image, preprocess_image
from shared.testing.model_packages import onnx_bytes

COLOURS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
EXTRA = ["cyan", "magenta", "yellow", "black"]  # never predicted (zero weights): checks the top-5 cut


def _build_model(path: Path) -> None:
    """logits = mean colour of the image (per channel) x W: the brightest channel's label wins."""
    from onnx import TensorProto, helper

    weights = np.zeros((3, 7), dtype=np.float32)
    weights[0, 0] = weights[1, 1] = weights[2, 2] = 4.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images", "axes"], ["pooled"], keepdims=0),
            helper.make_node("MatMul", ["pooled", "W"], ["logits"]),
        ],
        "colour",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 7])],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3]),
            helper.make_tensor("W", TensorProto.FLOAT, [3, 7], weights.flatten().tolist()),
        ],
    )
    path.write_bytes(onnx_bytes(graph, 18))


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imgpkg")
    _build_model(folder / "model.onnx")
    write_manifest(
        folder,
        {
            "task_type": "image_classification",
            "labels": [*COLOURS, *EXTRA],
            "artifacts": {"model": "model.onnx"},
            "preprocessing": {
                "image_size": [16, 16],
                "resize_shorter": 18,
                "crop": "center",
                "interpolation": "bilinear",
                "channel_order": "RGB",
                "scale": 1 / 255,
                "mean": [0.5, 0.5, 0.5],
                "std": [0.25, 0.25, 0.25],
            },
        },
    )
    return folder


def _image(colour: str, fmt: str = "PNG", size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    image = Image.new("RGB", size, COLOURS[colour]).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_registry_gives_the_image_predictor(package: Path) -> None:
    assert isinstance(load_predictor(package), ImageClassificationPredictor)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP"])
@pytest.mark.parametrize("colour", list(COLOURS))
def test_predicts_with_the_exeml_response_shape(package: Path, colour: str, fmt: str) -> None:
    answer = load_predictor(package).predict(_image(colour, fmt))
    assert set(answer) == {"predicted_label", "scores"}
    assert answer["predicted_label"] == colour
    scores = answer["scores"]
    assert len(scores) == 5  # top 5 of 7 labels
    assert scores[0][0] == colour
    assert all(isinstance(s, str) and len(s.split(".")[1]) == 3 for _, s in scores)  # "0.972"
    values = [float(s) for _, s in scores]
    assert values == sorted(values, reverse=True)
    assert float(scores[0][1]) > 0.5
    json.dumps(answer)  # plain JSON types only


def test_batch_gives_the_same_answers_as_single_calls(package: Path) -> None:
    predictor = load_predictor(package)
    payloads = [_image("red"), _image("blue", "JPEG", (64, 64)), _image("green", "BMP", (17, 50))]
    assert predictor.predict_batch(payloads) == [predictor.predict(p) for p in payloads]
    assert predictor.predict_batch([]) == []


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_grey_alpha_and_palette_images_are_converted_to_rgb(package: Path, mode: str) -> None:
    payload = _image("red", "PNG", mode=mode)
    assert decode_image(payload).mode == "RGB"
    load_predictor(package).predict(payload)


def test_preprocessing_resizes_the_shorter_side_then_crops_the_centre(package: Path) -> None:
    spec = load_predictor(package).spec
    image = Image.new("RGB", (90, 30), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 30, 30))  # white left third, cropped away by the centre crop
    array = preprocess_image(image, spec)
    assert array.shape == (3, 16, 16) and array.dtype == np.float32
    assert np.allclose(array, (0 - 0.5) / 0.25)  # all black after the crop, normalised


def test_preprocessing_without_a_crop_keeps_the_whole_image(package: Path) -> None:
    spec = {**load_predictor(package).spec, "crop": "none"}
    image = Image.new("RGB", (90, 30), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 30, 30))  # white left third: kept, squeezed into the left third
    array = preprocess_image(image, spec)
    assert array.shape == (3, 16, 16) and array.dtype == np.float32
    white, black = (1 - 0.5) / 0.25, (0 - 0.5) / 0.25
    assert np.allclose(array[:, :, :4], white) and np.allclose(array[:, :, 7:], black)


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"", "image_empty"),
        (b"hello, I am a text file\n", "image_decode"),
        (_image("red")[:60], "image_decode"),  # truncated PNG
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image_decode"),  # PNG signature, garbage after
        (_image("red", "GIF"), "image_format"),
        (_image("red", "TIFF"), "image_format"),
    ],
)
def test_bad_payloads_raise_prediction_input_errors(package: Path, payload: bytes, rule: str) -> None:
    with pytest.raises(PredictionInputError) as err:
        load_predictor(package).predict(payload)
    assert err.value.rule == rule
    assert err.value.field == "images"


def test_a_multi_picture_jpeg_from_a_phone_camera_is_a_jpg(package: Path) -> None:
    first, second = Image.new("RGB", (32, 32), COLOURS["blue"]), Image.new("RGB", (32, 32), COLOURS["red"])
    buffer = io.BytesIO()
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    assert load_predictor(package).predict(buffer.getvalue())["predicted_label"] == "blue"


def test_corrupt_jpeg_body_is_rejected(package: Path) -> None:
    data = bytearray(_image("red", "JPEG", (64, 64)))
    cut = bytes(data[: len(data) // 2])  # header intact, scan data missing
    with pytest.raises(PredictionInputError) as err:
        load_predictor(package).predict(cut)
    assert err.value.rule == "image_decode"


def test_a_package_without_preprocessing_is_refused(package: Path, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes((package / "model.onnx").read_bytes())
    write_manifest(
        tmp_path, {"task_type": "image_classification", "labels": ["a"], "artifacts": {"model": "model.onnx"}}
    )
    with pytest.raises(PackageError):
        load_predictor(tmp_path)
