"""Image classification predictor: image bytes → ``{"predicted_label", "scores"}`` (ModelArts ExeML shape).

Runs in the Triton python backend (numpy 1.26, no torch), so it uses only numpy, Pillow and, lazily,
onnxruntime. The trainer evaluates its models through this same code, so the accuracy it reports is the
accuracy serving gives.

The package's ``manifest["preprocessing"]`` says how a decoded image becomes the model input::

    {"image_size": [H, W],                 # model input height, width
     "resize_shorter": R,                  # first resize so the shorter side is R (aspect kept) ...
     "crop": "center",                     # ... then take the centre H x W crop ("none": the whole
                                           #     image resized to H x W, aspect not kept)
     "interpolation": "bilinear",
     "channel_order": "RGB", "layout": "NCHW", "scale": 1/255,
     "mean": [...], "std": [...],          # per channel, applied after scaling
     "input_name": "images", "output": "logits"}

The response follows the seed's example: ``{"predicted_label": "sunflowers", "scores": [["sunflowers",
"0.972"], ["dandelion", "0.028"], ...]}`` — the top 5 labels, scores as strings with 3 decimals
(:func:`shared.packages.common.score_text`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from shared.packages import PackageError, PredictionInputError, Predictor
from shared.packages.common import onnx_session, score_text, softmax

__all__ = [
    "ALLOWED_FORMATS",
    "ImageClassificationPredictor",
    "OnnxImagePredictor",
    "decode_image",
    "normalize",
    "preprocess_image",
    "resize_and_crop",
]

# Pillow format names of the image types the seeds accept (JPG, JPEG, PNG, BMP). MPO is how Pillow names
# the multi-picture JPEG files many phone cameras write: still a .jpg, first frame used.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "BMP")
TOP_K = 5


def decode_image(payload: bytes) -> Any:
    """The RGB ``PIL.Image`` of JPG/PNG/BMP file bytes; anything else raises :class:`PredictionInputError`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not payload:
        raise PredictionInputError("image_empty", "the image file is empty", field="images")
    try:
        with Image.open(io.BytesIO(payload)) as probe:
            fmt = probe.format
            probe.verify()  # checks the file's structure (truncation, bad chunks) without decoding pixels
        if fmt not in ALLOWED_FORMATS:
            raise PredictionInputError(
                "image_format",
                f"image format {fmt} is not supported; use JPG, JPEG, PNG or BMP",
                field="images",
            )
        with Image.open(io.BytesIO(payload)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
    except PredictionInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise PredictionInputError(
            "image_too_large", f"the image has too many pixels: {exc}", field="images"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PredictionInputError(
            "image_decode", f"the file is not a readable JPG, PNG or BMP image: {exc}", field="images"
        ) from exc


def resize_and_crop(image: Any, spec: dict[str, Any]) -> Any:
    """The ``image_size`` centre crop of ``image`` after its shorter side was resized to ``resize_shorter``;
    with ``"crop": "none"`` the whole image resized to ``image_size`` (nothing cut off at its edges)."""
    from PIL import Image

    height, width = (int(v) for v in spec["image_size"])
    shorter = int(spec.get("resize_shorter", max(height, width)))
    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}[
        spec.get("interpolation", "bilinear")
    ]
    w0, h0 = image.size
    if spec.get("crop", "center") == "none":
        return image if (w0, h0) == (width, height) else image.resize((width, height), resample)
    ratio = shorter / min(w0, h0)
    new_w, new_h = max(width, round(w0 * ratio)), max(height, round(h0 * ratio))
    if (new_w, new_h) != (w0, h0):
        image = image.resize((new_w, new_h), resample)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return image.crop((left, top, left + width, top + height))


def normalize(pixels: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """``float32`` CHW model input of HWC RGB ``uint8`` pixels: scale, channel order, mean/std."""
    array: np.ndarray = np.asarray(pixels, dtype=np.float32) * np.float32(spec.get("scale", 1.0 / 255.0))
    if spec.get("channel_order", "RGB") == "BGR":
        array = array[..., ::-1]
    array = (array - np.asarray(spec["mean"], dtype=np.float32)) / np.asarray(spec["std"], dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def preprocess_image(image: Any, spec: dict[str, Any]) -> np.ndarray:
    """The ``float32`` CHW array the model takes for one decoded RGB image, as ``spec`` describes."""
    return normalize(np.asarray(resize_and_crop(image, spec)), spec)


class OnnxImagePredictor(Predictor):
    """Base of the image predictors: ``model.onnx`` over images preprocessed as the manifest says."""

    providers: tuple[str, ...] | list[str] = ("CPUExecutionProvider",)  # onnxruntime execution providers

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        super().__init__(package_dir, manifest)
        self.spec: dict[str, Any] = dict(manifest.get("preprocessing") or {})
        for key in ("image_size", "mean", "std"):
            if key not in self.spec:
                raise PackageError(f"manifest preprocessing has no {key!r}")
        if not self.labels:
            raise PackageError("manifest has no labels")
        self.model_path = self.artifact("model")
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = onnx_session(self.model_path, self.providers)
            self._input_name = self.spec.get("input_name") or self._session.get_inputs()[0].name
        return self._session


class ImageClassificationPredictor(OnnxImagePredictor):
    """Loads ``model.onnx`` of an image classification package and classifies image file bytes."""

    def prepare(self, payload: bytes) -> np.ndarray:
        """The model input (CHW float32) of one image file's bytes."""
        return preprocess_image(decode_image(payload), self.spec)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities (N x labels) of a preprocessed NCHW batch."""
        session = self.session
        logits = session.run(None, {self._input_name: batch.astype(np.float32, copy=False)})[0]
        if logits.shape[-1] != len(self.labels):
            raise PackageError(f"model gives {logits.shape[-1]} scores for {len(self.labels)} labels")
        return softmax(logits.astype(np.float64))

    def answer(self, probs: np.ndarray) -> dict[str, Any]:
        order = np.argsort(-probs, kind="stable")[:TOP_K]
        return {
            "predicted_label": self.labels[int(order[0])],
            "scores": [[self.labels[int(i)], score_text(probs[i])] for i in order],
        }

    def predict_prepared(self, prepared: list[np.ndarray]) -> list[dict[str, Any]]:
        """Classify several prepared images in one model run."""
        return [self.answer(row) for row in self.probabilities(np.stack(prepared))]
