"""PASCAL VOC annotation files: read (import) and write (published detection versions)."""

from __future__ import annotations

import posixpath
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from dataset.validation import Rejected, check_label

__all__ = ["boxes_inverted", "boxes_outside", "parse_voc", "write_voc"]

_BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _int_text(node: Element | None, tag: str, default: int = 0) -> int:
    child = node.find(tag) if node is not None else None
    text = (child.text or "").strip() if child is not None else ""
    if not text:
        return default
    try:
        return int(float(text))
    except ValueError as exc:
        raise Rejected("voc_xml", f"<{tag}> is not a number: {text!r}") from exc


def _object(node: Element) -> dict[str, Any]:
    name = (node.findtext("name") or "").strip()
    box = node.find("bndbox")
    if box is None:
        raise Rejected("voc_shape", f"object {name!r} has no <bndbox> (only rectangles are supported)")
    try:
        coords = {k: float((box.findtext(k) or "").strip()) for k in _BOX_KEYS}
    except ValueError as exc:
        raise Rejected(
            "voc_xml", f"object {name!r} has a <bndbox> with a missing or non-numeric corner"
        ) from exc
    return {
        "name": check_label(name),
        "bndbox": coords,
        "pose": (node.findtext("pose") or "Unspecified").strip() or "Unspecified",
        "truncated": _int_text(node, "truncated"),
        "occluded": _int_text(node, "occluded"),
        "difficult": _int_text(node, "difficult"),
    }


def parse_voc(data: bytes, *, image: str | None = None) -> list[dict[str, Any]]:
    """The ``<object>`` rectangles of a VOC file (``Rejected`` with rule ``voc_xml`` if it is malformed).

    With ``image`` (the path of the image the file is paired with), its ``<filename>`` must name that image:
    else ``Rejected`` with rule ``voc_filename_mismatch`` (its boxes were drawn on another picture).
    """
    try:
        root = SafeET.fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise Rejected("voc_xml", f"malformed VOC XML: {exc}") from exc
    if root.tag != "annotation":
        raise Rejected("voc_xml", f"the root element is <{root.tag}>, not <annotation>")
    if image is not None:
        _check_filename((root.findtext("filename") or "").strip(), image)
    return [_object(node) for node in root.findall("object")]


def _check_filename(declared: str, image: str) -> None:
    """Tolerant as real VOC files need: no name, another case or folder, no or another extension are fine."""
    name = declared.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    own = posixpath.basename(image).casefold()
    stem = posixpath.splitext(own)[0]
    if not name or name in (own, stem) or posixpath.splitext(name)[0] == stem:
        return
    raise Rejected(
        "voc_filename_mismatch",
        f"<filename> names {declared!r}, not the image {posixpath.basename(image)!r} this file is paired "
        "with; the pair was not imported",
        field="filename",
    )


def boxes_inverted(objects: list[dict[str, Any]]) -> list[str]:
    """Names of the objects whose rectangle is empty or inverted (``xmin >= xmax`` or ``ymin >= ymax``)."""
    return [o["name"] for o in objects if not _ordered(o["bndbox"])]


def boxes_outside(objects: list[dict[str, Any]], width: int, height: int) -> list[str]:
    """Names of the objects whose (well-ordered) rectangle is not inside a ``width`` × ``height`` image."""
    bad = []
    for obj in objects:
        b = obj["bndbox"]
        inside = 0 <= b["xmin"] and b["xmax"] <= width and 0 <= b["ymin"] and b["ymax"] <= height
        if _ordered(b) and not inside:
            bad.append(obj["name"])
    return bad


def _ordered(box: dict[str, float]) -> bool:
    return box["xmin"] < box["xmax"] and box["ymin"] < box["ymax"]


def write_voc(filename: str, folder: str, size: dict[str, int], objects: list[dict[str, Any]]) -> bytes:
    """A VOC file with every field of the seed's table."""
    root = Element("annotation")
    SubElement(root, "folder").text = folder
    SubElement(root, "filename").text = filename
    SubElement(SubElement(root, "source"), "database").text = "Unknown"
    size_node = SubElement(root, "size")
    for key in ("width", "height", "depth"):
        SubElement(size_node, key).text = str(size.get(key, 3 if key == "depth" else 0))
    SubElement(root, "segmented").text = "0"
    for obj in objects:
        node = SubElement(root, "object")
        SubElement(node, "name").text = obj["name"]
        SubElement(node, "pose").text = str(obj.get("pose", "Unspecified"))
        for key in ("truncated", "occluded", "difficult"):
            SubElement(node, key).text = str(int(obj.get(key, 0)))
        box = SubElement(node, "bndbox")
        for key in _BOX_KEYS:
            value = float(obj["bndbox"][key])
            SubElement(box, key).text = str(int(value)) if value.is_integer() else str(value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")
