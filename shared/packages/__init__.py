"""Model packages: what the trainer writes, the registry records and the inference service serves.

A package is a folder (in object storage under ``package_uri``, copied to local disk to be used)::

    manifest.json          the manifest below
    <artifacts>            files named in manifest["artifacts"] (model.onnx, model.lgb.txt, vocab.json, …)

``manifest.json`` (format_version 1)::

    {
      "format_version": 1,
      "task_type": "image_classification" | "object_detection" | "predictive_analytics"
                   | "sound_classification" | "text_classification",
      "problem": "classification" | "regression",          # predictive analytics
      "labels": ["cat", "dog"],                            # class index -> name
      "artifacts": {"model": "model.onnx", ...},           # role -> relative path
      "preprocessing": {...},                              # image size/mean/std, audio rate/mel, tokenizer, ...
      "input_schema": {...},                               # tables: columns, types, categories, label column
      "metrics": {...}, "parameters": {...},
      "engine": {"name": "...", "candidate": "...", "versions": {"lightgbm": "4.5.0", ...}},
      "dataset": {"dataset_id": "...", "version_id": "...", "version_name": "V001"},
      "training_job_id": "...", "created_at": "2026-11-23T17:00:00Z"
    }

A **predictor** loads a package and answers one request. Its input is the *payload* of a predict call,
already taken out of the HTTP request by the inference service:

* image classification / object detection: the image file's bytes;
* sound classification: the WAV file's bytes;
* text classification: the text, UTF-8 encoded;
* predictive analytics: a JSON array of row objects (``req_data``), UTF-8 encoded.

Its output is the documented response body (ModelArts' formats): image ``{"predicted_label", "scores"}``;
detection ``{"detection_classes", "detection_boxes", "detection_scores"}``; sound/text ``{"predicted_label",
"score", "scores"}``; tables ``{"data": {"resp_data": [{"predict": …}, …]}}``. Confidences and box coordinates
are decimal strings as in the ExeML guide (``"0.972"``; :mod:`shared.packages.common`, ADR 0022); tables keep
ModelArts' table format (numbers).

The same predictor code runs in the Triton python backend (``model.py`` imports it) and in tests, so this
module and the predictor implementations import only numpy, the standard library and, lazily, the runtime
they need (onnxruntime, lightgbm, Pillow, soundfile): the Triton venv has numpy 1.26 and no pydantic.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PREDICTORS",
    "TASK_TYPES",
    "PackageError",
    "PredictionInputError",
    "Predictor",
    "load_predictor",
    "read_manifest",
    "write_manifest",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
TASK_TYPES = (
    "image_classification",
    "object_detection",
    "predictive_analytics",
    "sound_classification",
    "text_classification",
)
# task_type -> "module:Class" of its predictor, imported on first use.
PREDICTORS: dict[str, str] = {
    "image_classification": "shared.packages.image:ImageClassificationPredictor",
    "predictive_analytics": "shared.packages.table:TablePredictor",
    "object_detection": "shared.packages.detection:DetectionPredictor",
    "sound_classification": "shared.packages.sound:SoundPredictor",
    "text_classification": "shared.packages.text:TextPredictor",
}


class PackageError(ValueError):
    """The package itself is unusable (missing file, unknown task type, bad manifest)."""


class PredictionInputError(ValueError):
    """The request payload breaks a rule (corrupt image, 8-bit WAV, empty text, unknown column…).

    ``rule`` is a stable identifier for clients; the inference service answers 400 with it.
    """

    def __init__(self, rule: str, msg: str, field: str | None = None) -> None:
        super().__init__(msg)
        self.rule, self.msg, self.field = rule, msg, field


class Predictor:
    """Base of the predictors: subclasses implement :meth:`prepare` and :meth:`predict_prepared`.

    ``prepare`` takes one payload as far as it goes alone (decode, pre-process) and raises
    :class:`PredictionInputError` for a payload that breaks a rule; ``predict_prepared`` answers a list of
    prepared payloads with ONE model run. :meth:`predict_each` (what Triton's dynamic batches call) keeps a
    bad payload's error to that payload while the others get their answers.
    """

    def __init__(self, package_dir: Path, manifest: dict[str, Any]) -> None:
        self.package_dir = Path(package_dir)
        self.manifest = manifest
        self.labels: list[str] = list(manifest.get("labels", []))

    def artifact(self, role: str) -> Path:
        try:
            path: Path = self.package_dir / self.manifest["artifacts"][role]
        except KeyError as exc:
            raise PackageError(f"package manifest names no {role!r} artifact") from exc
        if not path.is_file():
            raise PackageError(f"package file {path.name} is missing")
        return path

    def prepare(self, payload: bytes) -> Any:
        """What the model run needs of one payload; :class:`PredictionInputError` when it breaks a rule."""
        raise NotImplementedError

    def predict_prepared(self, prepared: list[Any]) -> list[dict[str, Any]]:
        """The answers of prepared payloads, in one model run."""
        raise NotImplementedError

    def predict(self, payload: bytes) -> dict[str, Any]:
        return self.predict_batch([payload])[0]

    def predict_batch(self, payloads: list[bytes]) -> list[dict[str, Any]]:
        """The answers of several payloads in one model run; a bad payload raises for the whole batch."""
        return self.predict_prepared([self.prepare(p) for p in payloads]) if payloads else []

    def predict_each(self, payloads: list[bytes]) -> list[dict[str, Any] | PredictionInputError]:
        """One answer, or the payload's own :class:`PredictionInputError`, per payload: the valid payloads
        are answered together in one model run."""
        errors: list[PredictionInputError | None] = []
        prepared = []
        for payload in payloads:
            try:
                prepared.append(self.prepare(payload))
                errors.append(None)
            except PredictionInputError as exc:
                errors.append(exc)
        answers = iter(self.predict_prepared(prepared) if prepared else [])
        return [next(answers) if error is None else error for error in errors]


def read_manifest(package_dir: Path) -> dict[str, Any]:
    path = Path(package_dir) / MANIFEST_NAME
    if not path.is_file():
        raise PackageError(f"{MANIFEST_NAME} not found in {package_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise PackageError(f"{MANIFEST_NAME} must be a JSON object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"unsupported package format_version {manifest.get('format_version')!r}")
    if manifest.get("task_type") not in TASK_TYPES:
        raise PackageError(f"unknown task_type {manifest.get('task_type')!r}")
    if not isinstance(manifest.get("artifacts"), dict):
        raise PackageError("manifest has no 'artifacts' object")
    return manifest


def write_manifest(package_dir: Path, manifest: dict[str, Any]) -> Path:
    manifest = {"format_version": FORMAT_VERSION, **manifest}
    path = Path(package_dir) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    return path


def load_predictor(package_dir: Path | str) -> Predictor:
    """The predictor of a package folder on local disk."""
    package_dir = Path(package_dir)
    manifest = read_manifest(package_dir)
    target = PREDICTORS.get(manifest["task_type"])
    if target is None:
        raise PackageError(f"no predictor for task_type {manifest['task_type']!r}")
    module_name, class_name = target.split(":")
    cls: type[Predictor] = getattr(importlib.import_module(module_name), class_name)
    return cls(package_dir, manifest)
