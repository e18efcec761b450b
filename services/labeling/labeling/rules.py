"""The annotation rules of each dataset type (seed: "Labeling Data" of each project type).

* image classification (0): one or more labels per image, no rectangles;
* object detection (1): rectangles in pixels, several per image, each inside the image;
* text classification (100) and sound classification (200): exactly one label per sample;
* table (400): not labeled here (the label column is chosen when the dataset is created).

Every check returns a list of :class:`ErrorDetail` naming the field and the rule, empty when fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.errors import ErrorDetail
from shared.events.dataset import DATASET_TYPES
from shared.naming import check_label_name

IMAGE_CLASSIFICATION, OBJECT_DETECTION, TEXT_CLASSIFICATION, SOUND_CLASSIFICATION, TABLE = 0, 1, 100, 200, 400
SINGLE_LABEL_TYPES = (TEXT_CLASSIFICATION, SOUND_CLASSIFICATION)
COLOR_REQUIRED_TYPES = (OBJECT_DETECTION, TEXT_CLASSIFICATION)
# The guide: text labels include Chinese characters; "Only Chinese and English are supported for audio labeling".
CHINESE_LABEL_TYPES = (TEXT_CLASSIFICATION, SOUND_CLASSIFICATION)

# Distinct, readable colours handed out to labels created without one (import, implicit creation).
PALETTE = (
    "#3399ff",
    "#ff6600",
    "#33cc33",
    "#cc33ff",
    "#ffcc00",
    "#ff3366",
    "#00cccc",
    "#996633",
    "#6666ff",
    "#99cc00",
    "#ff99cc",
    "#006699",
    "#cc0000",
    "#009966",
    "#9966cc",
    "#ff9933",
    "#336600",
    "#0099ff",
    "#cc6699",
    "#666666",
)


class BoxLike(Protocol):
    xmin: float
    ymin: float
    xmax: float
    ymax: float


class AnnotationLike(Protocol):
    name: str

    @property
    def bndbox(self) -> BoxLike | None: ...


def type_name(dataset_type: int) -> str:
    return DATASET_TYPES.get(dataset_type, str(dataset_type))


def auto_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def label_name_errors(name: str, dataset_type: int, field: str) -> list[ErrorDetail]:
    broken = check_label_name(name, allow_chinese=dataset_type in CHINESE_LABEL_TYPES)
    if broken is None:
        return []
    rule, msg = broken
    return [ErrorDetail(rule=rule, msg=msg, field=field, value=name[:64])]


def labeling_supported(dataset_type: int, field: str = "dataset_id") -> list[ErrorDetail]:
    if dataset_type in DATASET_TYPES and dataset_type != TABLE:
        return []
    return [
        ErrorDetail(
            rule="dataset_type_not_labeled",
            msg=f"datasets of type {type_name(dataset_type)} are not labeled; tables take their label column",
            field=field,
        )
    ]


def box_errors(box: BoxLike, width: int | None, height: int | None, field: str) -> list[ErrorDetail]:
    if box.xmin < 0 or box.ymin < 0 or box.xmin >= box.xmax or box.ymin >= box.ymax:
        return [
            ErrorDetail(
                rule="bndbox_invalid",
                msg=f"rectangle ({box.xmin}, {box.ymin})–({box.xmax}, {box.ymax}) needs 0 <= xmin < xmax and "
                "0 <= ymin < ymax",
                field=field,
            )
        ]
    if (width is not None and box.xmax > width) or (height is not None and box.ymax > height):
        return [
            ErrorDetail(
                rule="bndbox_outside_image",
                msg=f"rectangle ({box.xmin}, {box.ymin})–({box.xmax}, {box.ymax}) lies outside the "
                f"{width}x{height} image",
                field=field,
            )
        ]
    return []


def annotation_errors(
    annotations: Sequence[AnnotationLike],
    dataset_type: int,
    *,
    width: int | None,
    height: int | None,
    field: str = "annotations",
) -> list[ErrorDetail]:
    """Every broken rule of one sample's complete annotation list (empty list = unlabeled, always fine)."""
    errors = labeling_supported(dataset_type)
    if errors:
        return errors
    for i, ann in enumerate(annotations):
        at = f"{field}[{i}]"
        errors += label_name_errors(ann.name, dataset_type, f"{at}.name")
        box = ann.bndbox
        if dataset_type == OBJECT_DETECTION:
            if box is None:
                errors.append(
                    ErrorDetail(
                        rule="bndbox_required",
                        msg="object detection needs a rectangle (bndbox xmin, ymin, xmax, ymax in pixels)",
                        field=f"{at}.bndbox",
                    )
                )
            else:
                errors += box_errors(box, width, height, f"{at}.bndbox")
        elif box is not None:
            errors.append(
                ErrorDetail(
                    rule="bndbox_not_allowed",
                    msg=f"{type_name(dataset_type)} labels have no rectangle",
                    field=f"{at}.bndbox",
                )
            )
    names = {a.name for a in annotations}
    if dataset_type in SINGLE_LABEL_TYPES and len(names) > 1:
        errors.append(
            ErrorDetail(
                rule="single_label",
                msg=f"{type_name(dataset_type)} takes exactly one label per sample, got {len(names)}: "
                f"{', '.join(sorted(names))}",
                field=field,
            )
        )
    return errors


def dedupe_classification(annotations: Sequence[AnnotationLike], dataset_type: int) -> list[AnnotationLike]:
    """Without rectangles a label counts once per sample: keep the first of each name."""
    if dataset_type == OBJECT_DETECTION:
        return list(annotations)
    seen: set[str] = set()
    out = []
    for ann in annotations:
        if ann.name not in seen:
            seen.add(ann.name)
            out.append(ann)
    return out
