"""Dataset types: ModelArts codes, readable names, and what each type's samples look like."""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.dataset import DATASET_TYPES
from shared.manifest import ANNOTATION_TYPES, SAMPLE_TYPES

__all__ = ["IMAGE_EXTENSIONS", "KINDS", "DatasetKind", "kind_of"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class DatasetKind:
    code: int
    name: str
    sample_type: int
    extensions: tuple[str, ...]
    annotation_type: str | None

    @property
    def is_table(self) -> bool:
        return self.code == 400

    @property
    def is_detection(self) -> bool:
        return self.code == 1

    @property
    def is_text(self) -> bool:
        return self.code == 100

    @property
    def chinese_labels(self) -> bool:
        """The guide allows Chinese label names for text ("including Chinese characters") and sound ("Only
        Chinese and English are supported for audio labeling"); the other types' labels are ASCII."""
        return self.code in (100, 200)


KINDS: dict[int, DatasetKind] = {
    0: DatasetKind(
        0, DATASET_TYPES[0], SAMPLE_TYPES["image"], IMAGE_EXTENSIONS, ANNOTATION_TYPES[DATASET_TYPES[0]]
    ),
    1: DatasetKind(
        1, DATASET_TYPES[1], SAMPLE_TYPES["image"], IMAGE_EXTENSIONS, ANNOTATION_TYPES[DATASET_TYPES[1]]
    ),
    100: DatasetKind(
        100, DATASET_TYPES[100], SAMPLE_TYPES["text"], (".txt", ".csv"), ANNOTATION_TYPES[DATASET_TYPES[100]]
    ),
    200: DatasetKind(
        200, DATASET_TYPES[200], SAMPLE_TYPES["audio"], (".wav",), ANNOTATION_TYPES[DATASET_TYPES[200]]
    ),
    400: DatasetKind(400, DATASET_TYPES[400], SAMPLE_TYPES["table"], (".csv",), None),
}
_BY_NAME = {k.name: k for k in KINDS.values()}


def kind_of(code: int | None = None, name: str | None = None) -> DatasetKind | None:
    """The kind for a ModelArts code or a readable name (``None`` if neither matches)."""
    if code is not None:
        return KINDS.get(code)
    return _BY_NAME.get(name or "")
