"""ModelArts manifests (JSON Lines): the frozen content of a published dataset version.

One line per sample: ``source`` (``s3://…`` for files, ``content://<text>`` for inline text), ``usage``
(``TRAIN``/``EVAL``/``TEST``/``INFERENCE`` or absent), ``id``, ``sample-type``, ``annotation`` (a list; empty or
absent = unlabeled). Reading is lenient as ModelArts' SDK is (``annotation_loc`` = ``annotation-loc``,
``train`` = ``TRAIN``, keys in any case); writing emits uppercase usages and hyphenated keys.

Extensions we write and read (ignored by ModelArts tools, which skip unknown fields):

* detection annotations carry the boxes inline next to ``annotation-loc``: ``"objects": [{"name", "bndbox":
  {"xmin","ymin","xmax","ymax"}, "pose", "truncated", "occluded", "difficult"}]`` and ``"size": {"width",
  "height", "depth"}``, so a trainer need not fetch one VOC file per image;
* table versions list their frozen CSV files, one line per file with ``sample-type`` 4 and the usage of all
  its rows (``train.csv`` → TRAIN, ``eval.csv`` → EVAL); the schema travels in the version's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import json_limits
from shared.errors import ExeMLError

__all__ = [
    "ANNOTATION_TYPES",
    "SAMPLE_TYPES",
    "USAGES",
    "Box",
    "ManifestAnnotation",
    "ManifestError",
    "ManifestLine",
    "dump_lines",
    "format_time",
    "parse_line",
    "parse_lines",
]

USAGES = ("TRAIN", "EVAL", "TEST", "INFERENCE")
# Project/dataset type -> the annotation type of its manifest lines.
ANNOTATION_TYPES = {
    "image_classification": "modelarts/image_classification",
    "object_detection": "modelarts/object_detection",
    "sound_classification": "modelarts/audio_classification",
    "text_classification": "modelarts/text_classification",
}
SAMPLE_TYPES = {"image": 0, "text": 1, "audio": 2, "table": 4, "video": 6}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class ManifestError(ValueError):
    """A manifest line that cannot be read; ``line_no`` is 1-based."""

    def __init__(self, msg: str, line_no: int | None = None) -> None:
        super().__init__(f"line {line_no}: {msg}" if line_no else msg)
        self.line_no = line_no


def format_time(value: datetime) -> str:
    return value.strftime(_TIME_FORMAT)


def _norm_key(key: str) -> str:
    return key.strip().lower().replace("_", "-")


@dataclass
class Box:
    """A PASCAL VOC rectangle in pixels of the original image."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def as_dict(self) -> dict[str, float]:
        return {"xmin": self.xmin, "ymin": self.ymin, "xmax": self.xmax, "ymax": self.ymax}


@dataclass
class ManifestAnnotation:
    """One annotation object of a line."""

    type: str
    name: str | None = None
    annotated_by: str = "human"
    creation_time: str | None = None
    confidence: float | None = None
    annotation_loc: str | None = None
    annotation_format: str | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    size: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ManifestAnnotation:
        data = {_norm_key(k): v for k, v in raw.items()}
        if "type" not in data or not isinstance(data["type"], str):
            raise ManifestError("annotation without a 'type'")
        known = {
            "type",
            "name",
            "annotated-by",
            "creation-time",
            "confidence",
            "annotation-loc",
            "annotation-format",
            "objects",
            "size",
        }
        return cls(
            type=data["type"],
            name=data.get("name"),
            annotated_by=data.get("annotated-by") or "human",
            creation_time=data.get("creation-time"),
            confidence=data.get("confidence"),
            annotation_loc=data.get("annotation-loc"),
            annotation_format=data.get("annotation-format"),
            objects=list(data.get("objects") or []),
            size=data.get("size"),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        if self.annotation_loc is not None:
            out["annotation-loc"] = self.annotation_loc
            out["annotation-format"] = self.annotation_format or "PASCAL VOC"
        if self.objects:
            out["objects"] = self.objects
        if self.size is not None:
            out["size"] = self.size
        if self.confidence is not None:
            out["confidence"] = self.confidence
        out["annotated-by"] = self.annotated_by
        if self.creation_time is not None:
            out["creation-time"] = self.creation_time
        return out | self.extra

    def boxes(self) -> list[tuple[str, Box]]:
        """The detection objects as ``(label, Box)`` pairs."""
        return [
            (str(o["name"]), Box(**{k: float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")}))
            for o in self.objects
        ]


@dataclass
class ManifestLine:
    source: str
    usage: str | None = None
    id: str | None = None
    sample_type: int | None = None
    annotations: list[ManifestAnnotation] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_inline_text(self) -> bool:
        return self.source.startswith("content://")

    @property
    def text(self) -> str:
        """The inline text of a ``content://`` source."""
        if not self.is_inline_text:
            raise ManifestError(f"source {self.source!r} is not inline text")
        return self.source.removeprefix("content://")

    @property
    def labels(self) -> list[str]:
        """Names of the classification annotations (detection: names of the objects)."""
        names: list[str] = []
        for ann in self.annotations:
            if ann.name is not None:
                names.append(ann.name)
            names.extend(str(o["name"]) for o in ann.objects)
        return list(dict.fromkeys(names))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.usage is not None:
            out["usage"] = self.usage
        if self.id is not None:
            out["id"] = self.id
        if self.sample_type is not None:
            out["sample-type"] = self.sample_type
        out["annotation"] = [a.as_dict() for a in self.annotations]
        return out | self.extra

    def dumps(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


def parse_line(text: str, line_no: int | None = None) -> ManifestLine:
    try:
        raw = json_limits.loads(text, what="the line")
    except ExeMLError as exc:  # invalid JSON, or nested deeper than any manifest line is
        raise ManifestError(exc.error_msg, line_no) from exc
    if not isinstance(raw, dict):
        raise ManifestError("a manifest line must be a JSON object", line_no)
    data = {_norm_key(k): v for k, v in raw.items()}
    source = data.get("source")
    if not isinstance(source, str) or not source:
        raise ManifestError("missing 'source'", line_no)
    usage = data.get("usage")
    if usage is not None:
        usage = str(usage).upper()
        if usage not in USAGES:
            raise ManifestError(f"usage {usage!r} is not one of {', '.join(USAGES)}", line_no)
    annotations_raw = data.get("annotation") or []
    if not isinstance(annotations_raw, list):
        raise ManifestError("'annotation' must be a list", line_no)
    try:
        annotations = [ManifestAnnotation.from_dict(a) for a in annotations_raw if isinstance(a, dict)]
    except ManifestError as exc:
        raise ManifestError(str(exc), line_no) from exc
    sample_type = data.get("sample-type")
    known = {"source", "usage", "id", "sample-type", "annotation"}
    return ManifestLine(
        source=source,
        usage=usage,
        id=data.get("id"),
        sample_type=int(sample_type) if sample_type is not None else None,
        annotations=annotations,
        extra={k: v for k, v in data.items() if k not in known},
    )


def parse_lines(text: str | Iterable[str]) -> Iterator[ManifestLine]:
    """Parse a whole manifest (blank lines skipped); errors name the line number."""
    lines = text.splitlines() if isinstance(text, str) else text
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse_line(line, number)


def dump_lines(lines: Iterable[ManifestLine]) -> str:
    return "".join(line.dumps() + "\n" for line in lines)
