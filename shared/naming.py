"""Name rules of the seeds, shared by the services that enforce them (dataset import, labeling, workflow).

* label names: 1–32 characters of letters, digits, ``-`` and ``_``; Chinese characters are allowed for text
  classification (seed: "including Chinese characters" on the text pages), for sound classification ("Only
  Chinese and English are supported for audio labeling") and in the dataset-level label set;
* sample file names: no ``+``, spaces or tabs; object detection also forbids Chinese characters; no path parts
  that could escape a folder (``..``, absolute paths, backslashes, NUL).

Each check returns ``None`` when the name is fine, else the broken rule as a short identifier plus a message,
so callers can report ``ErrorDetail(rule=…, msg=…, file=…/field=…)``.
"""

from __future__ import annotations

import re

__all__ = [
    "ID_PATTERN",
    "LABEL_NAME_MAX",
    "PLAIN_TEXT_PATTERN",
    "VERSION_NAME_PATTERN",
    "check_file_name",
    "check_label_name",
    "has_chinese",
]

# Resource ids in paths and bodies: what the services hand out (32 hex digits) fits; control characters,
# spaces and non-ASCII never reach a database query (a 400 or 404 instead of a driver error).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Free text (names, descriptions, search terms): anything but control characters (NUL cannot be stored).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

# A dataset version's name (ModelArts: 1–32 letters, digits, '-' and '_'): the dataset service's rule, which a
# workflow round naming the version it publishes checks too.
VERSION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"

LABEL_NAME_MAX = 32
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LABEL_ASCII = re.compile(r"^[A-Za-z0-9_-]+$")
_LABEL_WITH_CHINESE = re.compile(r"^[A-Za-z0-9_\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


def has_chinese(text: str) -> bool:
    return bool(_CHINESE.search(text))


def check_label_name(name: str, *, allow_chinese: bool = False) -> tuple[str, str] | None:
    if not name:
        return "label_name_empty", "a label name must not be empty"
    if len(name) > LABEL_NAME_MAX:
        return (
            "label_name_length",
            f"label name {name[:40]!r} has {len(name)} characters; at most {LABEL_NAME_MAX}",
        )
    pattern = _LABEL_WITH_CHINESE if allow_chinese else _LABEL_ASCII
    if not pattern.match(name):
        allowed = "Chinese characters, letters" if allow_chinese else "letters"
        return "label_name_characters", f"label name {name!r} may contain only {allowed}, digits, '-' and '_'"
    return None


def check_file_name(path: str, *, forbid_chinese: bool = False) -> tuple[str, str] | None:
    """Check a sample's file name (the last path part) and that the path cannot escape its folder."""
    if "\x00" in path or "\\" in path or path.startswith("/") or any(p == ".." for p in path.split("/")):
        return (
            "path_traversal",
            f"file path {path!r} must stay inside its folder (no '..', '/' prefix or '\\\\')",
        )
    name = path.rsplit("/", 1)[-1]
    if not name or name in (".", ".."):
        return "file_name_empty", "a file name must not be empty"
    for char, label in (("+", "plus signs (+)"), (" ", "spaces"), ("\t", "tabs")):
        if char in name:
            return "file_name_characters", f"file name {name!r} must not contain {label}"
    if forbid_chinese and has_chinese(name):
        return (
            "file_name_chinese",
            f"file name {name!r} must not contain Chinese characters (object detection)",
        )
    return None
