"""A tiny genuine model package of every task type, with payloads to send it (tests of batched serving).

``package_files(task_type)`` returns a package's files in the ``shared.packages`` format; the networks have
random weights, so every input gets its own answer and a batch that mixed inputs up would show.
``payloads(task_type)`` gives distinct valid payloads (images of several sizes, WAVs of several lengths,
texts, JSON row lists of several lengths); ``bad_payload(task_type)`` one that breaks a predictor rule;
``same(a, b)`` compares answers.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import TASK_TYPES, write_manifest
from shared.testing.datagen import wav_bytes
from shared.testing.model_packages import image_package, png_bytes, table_package

__all__ = ["bad_payload", "detection_manifest", "package_files", "payloads", "same", "write_text_package"]

DETECTION_SIZE = 32  # model input 32 x 32, maps at stride 4: 8 x 8
TEXT_VOCABULARY = list("好差很不错服务产品abcdefghij")


def _onnx_files(
    model: Any, manifest: dict[str, Any], extra: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    import onnx

    model.ir_version = 8
    onnx.checker.check_model(model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        onnx.save(model, str(folder / "model.onnx"))
        for name, data in (extra or {}).items():
            (folder / name).write_bytes(data)
        write_manifest(folder, manifest)
        return {p.name: p.read_bytes() for p in folder.iterdir()}


def detection_package(seed: int = 0) -> dict[str, bytes]:
    """Random convolutions at stride 4: sigmoid class maps and boxes = cell grid + offsets (canvas pixels)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    cells = DETECTION_SIZE // 4
    ys, xs = np.mgrid[0:cells, 0:cells].astype(np.float32) * 4
    grid = np.stack([xs - 2, ys - 2, xs + 6, ys + 6])[None]
    weights = {
        "score_w": rng.normal(scale=2.0, size=(2, 3, 4, 4)).astype(np.float32),
        "score_b": np.full(2, -1.0, np.float32),
        "box_w": rng.normal(size=(4, 3, 4, 4)).astype(np.float32),
        "box_b": np.zeros(4, np.float32),
        "grid": grid.astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["images", "score_w", "score_b"], ["raw_scores"], strides=[4, 4]),
        helper.make_node("Sigmoid", ["raw_scores"], ["scores"]),
        helper.make_node("Conv", ["images", "box_w", "box_b"], ["offsets"], strides=[4, 4]),
        helper.make_node("Add", ["offsets", "grid"], ["boxes"]),
    ]
    size = DETECTION_SIZE
    graph = helper.make_graph(
        nodes,
        "tiny-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 2, cells, cells]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 4, cells, cells]),
        ],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    manifest = detection_manifest(size, ["cat", "dog"], score_threshold=0.5, max_detections=20)
    return _onnx_files(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), manifest)


def detection_manifest(
    size: int, labels: list[str], *, score_threshold: float, max_detections: int
) -> dict[str, Any]:
    """The manifest of an ONNX detector ``model.onnx``: ``images`` in (letterboxed ``size`` x ``size``),
    ``scores`` and ``boxes`` out."""
    return {
        "task_type": "object_detection",
        "labels": labels,
        "artifacts": {"model": "model.onnx"},
        "preprocessing": {
            "image_size": [size, size],
            "resize": "letterbox",
            "pad_value": 114,
            "interpolation": "bilinear",
            "scale": 1 / 255,
            "mean": [0.5] * 3,
            "std": [0.25] * 3,
            "input_name": "images",
            "outputs": {"scores": "scores", "boxes": "boxes"},
            "score_threshold": score_threshold,
            "nms_iou": 0.5,
            "max_detections": max_detections,
        },
    }


def sound_package(seed: int = 0) -> dict[str, bytes]:
    """A network over log-mel windows (mean over frames, random dense) and a linear model on clip statistics."""
    from onnx import TensorProto, helper, numpy_helper

    from shared.packages.sound import DEFAULT_SPEC
    from shared.packages.sound_features import STATS_SPEC, clip_statistics

    rng = np.random.default_rng(seed)
    labels = ["low", "mid", "high"]
    n_mels = int(DEFAULT_SPEC["n_mels"])
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["features"], ["pooled"], axes=[1, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
        ],
        "tiny-sound",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1, n_mels, "frames"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(labels)])],
        [numpy_helper.from_array(rng.normal(size=(n_mels, len(labels))).astype(np.float32), "w")],
    )
    n_features = clip_statistics(rng.normal(size=(n_mels, 120)), STATS_SPEC).size
    mean, scale = np.zeros(n_features), np.full(n_features, 10.0)
    coef, intercept = rng.normal(size=(len(labels), n_features)), np.zeros(len(labels))
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "linear.npz", mean=mean, scale=scale, coef=coef, intercept=intercept)
        linear_bytes = (Path(tmp) / "linear.npz").read_bytes()
    manifest = {
        "task_type": "sound_classification",
        "labels": labels,
        "artifacts": {"model": "model.onnx", "linear": "linear.npz"},
        "preprocessing": {**DEFAULT_SPEC, "models": ["model", "linear"], "statistics": dict(STATS_SPEC)},
    }
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _onnx_files(model, manifest, {"linear.npz": linear_bytes})


def text_package(seed: int = 0) -> dict[str, bytes]:
    """A character TF-IDF linear model with random coefficients over a small vocabulary."""
    rng = np.random.default_rng(seed)
    labels = ["positive", "negative", "neutral"]
    idf = rng.uniform(1.0, 2.0, len(TEXT_VOCABULARY))
    coef = rng.normal(scale=3.0, size=(len(labels), len(TEXT_VOCABULARY)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_text_package(Path(tmp), labels, TEXT_VOCABULARY, idf, coef)
        return {p.name: p.read_bytes() for p in folder.iterdir()}


def write_text_package(
    folder: Path, labels: list[str], vocabulary: list[str], idf: np.ndarray, coef: np.ndarray
) -> Path:
    """Write a character TF-IDF linear model into ``folder``: unigrams of ``vocabulary`` weighted by ``idf``,
    one row of ``coef`` a label, no intercept."""
    (folder / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    np.savez(folder / "model.npz", idf=idf, coef=coef, intercept=np.zeros(len(labels)))
    write_manifest(
        folder,
        {
            "task_type": "text_classification",
            "labels": labels,
            "artifacts": {"model": "model.npz", "vocabulary": "vocabulary.json"},
            "preprocessing": {
                "kind": "char_tfidf",
                "ngram_range": [1, 1],
                "lowercase": True,
                "sublinear_tf": True,
                "norm": "l2",
            },
        },
    )
    return folder


PACKAGES: dict[str, Callable[[int], dict[str, bytes]]] = {
    "image_classification": image_package,
    "object_detection": detection_package,
    "predictive_analytics": table_package,
    "sound_classification": sound_package,
    "text_classification": text_package,
}
assert set(PACKAGES) == set(TASK_TYPES)


def package_files(task_type: str, seed: int = 0) -> dict[str, bytes]:
    return PACKAGES[task_type](seed)


def _rows(i: int) -> bytes:
    rng = np.random.default_rng(i)
    rows = [{f"attr_{j + 1}": float(v) for j, v in enumerate(rng.normal(size=3))} for _ in range(1 + i % 4)]
    return json.dumps(rows).encode()


def payloads(task_type: str, count: int = 6) -> list[bytes]:
    """``count`` distinct valid payloads of ``task_type``."""
    if task_type in ("image_classification", "object_detection"):
        return [png_bytes(40 + 8 * (i % 3), 32 + 4 * i, seed=i) for i in range(count)]
    if task_type == "sound_classification":
        return [wav_bytes(200.0 + 300 * i, seconds=0.5 + 0.4 * (i % 3), seed=i) for i in range(count)]
    if task_type == "text_classification":
        texts = ["很好", "服务很差", "产品不错 abc", "差差差", "hello bad", "好 服务 ij"]
        return [f"{texts[i % len(texts)]} {i}".encode() for i in range(count)]
    return [_rows(i) for i in range(count)]


def bad_payload(task_type: str) -> bytes:
    """A payload that breaks a rule of the ``task_type`` predictor (its own PredictionInputError)."""
    return {
        "image_classification": b"not an image",
        "object_detection": b"not an image",
        "predictive_analytics": b'[{"nope": 1}]',
        "sound_classification": b"RIFF not a wav",
        "text_classification": b"   ",
    }[task_type]


def same(a: Any, b: Any) -> bool:
    """Equal answers: labels, keys and structure exactly; numbers up to their last bits (a matrix product of
    n rows may sum in another order than n products of one row: BLAS kernels differ)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, type(a)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)
