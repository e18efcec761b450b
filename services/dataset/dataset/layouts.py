"""The seeds' directory layouts: which files form one sample, and how each becomes samples.

A *unit* is one sample file plus its companion (image + same-stem ``.txt`` or VOC ``.xml``; text object file,
``.txt`` or ``.csv``, + ``_result.txt`` or ``_result.csv``); WAV files take their label from their folder; each CSV file is one table part. Turning a unit
into :class:`Candidate` samples validates everything and raises :class:`UnitRejected` for the files that break
a rule, so the caller records the errors and stores nothing of that unit.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dataset.checks import GUIDE_THRESHOLDS, check_table_part, check_table_rows
from dataset.config import Settings
from dataset.table import column_stats, infer_schema, read_csv
from dataset.types import DatasetKind
from dataset.validation import Rejected, check_audio, check_image, check_label, check_name, decode_text
from dataset.voc import boxes_inverted, boxes_outside, parse_voc
from shared.events.dataset import ImportedAnnotation

__all__ = [
    "WARNING_RULES",
    "Candidate",
    "FileError",
    "TableContext",
    "Unit",
    "UnitRejected",
    "build_unit",
    "group_units",
    "input_folder",
    "of_one_file",
]

Loader = Callable[[str], Awaitable[bytes]]
RESULT_SUFFIXES = ("_result.txt", "_result.csv")  # the guide names _result.txt; a .csv pairs with either
INLINE_BYTES = 64 * 1024
# Problems that leave the sample imported (unlabeled) rather than failed: the seed's rule for VOC boxes.
WARNING_RULES = frozenset({"voc_box_outside", "voc_box_inverted"})


@dataclass
class FileError:
    file: str
    rule: str
    msg: str
    field: str | None = None  # the part of the file at fault, when one is
    column: str | None = None  # a table rule's column

    def as_dict(self) -> dict[str, str]:
        out = {"file": self.file, "rule": self.rule, "msg": self.msg}
        if self.field:
            out["field"] = self.field
        if self.column is not None:
            out["column"] = self.column
        return out


class UnitRejected(Exception):
    def __init__(self, error: FileError) -> None:
        super().__init__(error.msg)
        self.error = error


@dataclass
class Candidate:
    """A sample ready to be stored (``source_key`` identifies it for synchronisation)."""

    name: str
    source: str
    source_key: str
    sample_type: int
    size: int = 0
    width: int | None = None
    height: int | None = None
    text: str | None = None
    row_count: int | None = None
    duration: float | None = None  # sound: seconds
    annotations: list[ImportedAnnotation] = field(default_factory=list)
    schema: list[dict[str, Any]] | None = None
    warnings: list[FileError] = field(default_factory=list)  # rules it breaks that do not reject it


@dataclass
class Unit:
    path: str  # relative to the import root
    uri: str
    companion: str | None = None
    # From a manifest: the line's inline text and its annotations (None = take them from the files).
    text: str | None = None
    annotations: list[ImportedAnnotation] | None = None


@dataclass
class TableContext:
    with_header: bool
    label_column: str | None
    schema: list[dict[str, Any]] | None  # the dataset's schema so far (all parts must match it)
    rows: int = 0  # the dataset's table rows so far, this arrival's accepted parts included
    last_part: str | None = None
    min_rows: int = GUIDE_THRESHOLDS.min_table_records

    def add(self, part: Candidate) -> None:
        """An accepted part: the first one sets the schema; each adds its rows."""
        self.schema = self.schema or part.schema
        self.rows += part.row_count or 0
        self.last_part = part.name

    def row_warnings(self) -> list[FileError]:
        """The row rule once an arrival's parts are in, on its last part (a table is made of its parts)."""
        if self.last_part is None:
            return []
        return [FileError(self.last_part, v.rule, v.msg) for v in check_table_rows(self.rows, self.min_rows)]


def _stem(path: str) -> str:
    return posixpath.splitext(path)[0]


def input_folder(path: str) -> str:
    """The folder of an input path: the path itself, or the folder holding the one file it names."""
    return path if path.endswith("/") else posixpath.dirname(path) + "/"


def of_one_file(path: str, names: list[str], kind: DatasetKind) -> list[str]:
    """Of a folder's ``names``, those an import of the one file ``path`` reads: the file (and a text file's
    label file)."""
    base = posixpath.basename(path)
    results = {_result_file(base, set(names))} if kind.is_text else set()
    return [n for n in names if n == base or n in results]


def _result_file(path: str, present: set[str]) -> str | None:
    """The label file of a text file: ``<stem>_result`` with the text file's own extension, else ``.txt``."""
    stem, ext = posixpath.splitext(path)
    own = f"{stem}_result{ext.lower()}"
    return next((c for c in (own, f"{stem}_result.txt") if c in present), None)


def group_units(
    paths: list[str], kind: DatasetKind, uri_of: Callable[[str], str]
) -> tuple[list[Unit], list[FileError]]:
    """Pair sample files with their companions; files of no use to this type are reported."""
    present = set(paths)
    units: list[Unit] = []
    errors: list[FileError] = []
    companion_ext = {0: ".txt", 1: ".xml"}.get(kind.code)
    for path in paths:
        lower = path.lower()
        if kind.is_text and lower.endswith(RESULT_SUFFIXES):
            continue
        if companion_ext and lower.endswith(companion_ext):
            continue
        if not lower.endswith(kind.extensions):
            errors.append(
                FileError(
                    path, "file_type", f"not a {'/'.join(kind.extensions)} file for a {kind.name} dataset"
                )
            )
            continue
        companion = None
        if companion_ext:
            companion = next(
                (
                    c
                    for c in (_stem(path) + companion_ext, _stem(path) + companion_ext.upper())
                    if c in present
                ),
                None,
            )
        elif kind.is_text:
            companion = _result_file(path, present)
        units.append(Unit(path, uri_of(path), companion))
    return units, errors


def _reject(path: str, exc: Rejected) -> UnitRejected:
    return UnitRejected(FileError(path, exc.rule, exc.msg, exc.field))


async def build_unit(
    unit: Unit,
    kind: DatasetKind,
    load: Loader,
    settings: Settings,
    table: TableContext | None = None,
    *,
    import_annotations: bool = True,
    warnings: list[FileError] | None = None,
) -> list[Candidate]:
    """Validate one unit and return its samples (``UnitRejected`` names the file and the rule)."""
    if unit.text is not None:
        return [
            Candidate(
                unit.path,
                f"content://{unit.text}",
                unit.uri,
                1,
                len(unit.text.encode()),
                text=unit.text,
                annotations=unit.annotations or [],
            )
        ]
    try:
        check_name(unit.path, forbid_chinese=kind.is_detection)
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    companion = unit.companion if import_annotations else None
    if kind.is_text:
        return await _text_unit(unit, companion, load, settings)
    try:
        data = await load(unit.path)
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    if kind.is_table:
        return [await asyncio.to_thread(_table_unit, unit, data, settings, table)]
    if kind.code == 200:
        return [_sound_unit(unit, data, settings, import_annotations)]
    return [await _image_unit(unit, kind, data, companion, load, settings, warnings)]


async def _image_unit(
    unit: Unit,
    kind: DatasetKind,
    data: bytes,
    companion: str | None,
    load: Loader,
    settings: Settings,
    warnings: list[FileError] | None,
) -> Candidate:
    try:
        # Small images decode in microseconds: a thread hop would cost more than it saves.
        info = (
            check_image(data, settings)
            if len(data) < INLINE_BYTES
            else await asyncio.to_thread(check_image, data, settings)
        )
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    cand = Candidate(unit.path, unit.uri, unit.uri, kind.sample_type, len(data), info.width, info.height)
    if unit.annotations is not None and companion is None:
        return _with_boxes(cand, unit.path, [a.model_dump() for a in unit.annotations], kind, warnings)
    if companion is None:
        return cand
    try:
        raw = await load(companion)
        if kind.is_detection:
            objects = parse_voc(raw, image=unit.path)
        else:
            lines = decode_text(raw, settings.text_max_bytes, allow_empty=True).splitlines()
            names = list(dict.fromkeys(check_label(n) for n in lines if n.strip()))
    except Rejected as exc:
        raise _reject(companion, exc) from exc
    if not kind.is_detection:
        cand.annotations = [ImportedAnnotation(name=n) for n in names]
        return cand
    return _with_boxes(cand, companion, objects, kind, warnings)


def _with_boxes(
    cand: Candidate,
    file: str,
    objects: list[dict[str, Any]],
    kind: DatasetKind,
    warnings: list[FileError] | None,
) -> Candidate:
    if not kind.is_detection:
        cand.annotations = [ImportedAnnotation(**obj) for obj in objects]
        return cand
    size = f"{cand.width}x{cand.height}"
    problems = [
        (
            "voc_box_inverted",
            boxes_inverted(objects),
            "have xmin >= xmax or ymin >= ymax (inverted or empty)",
        ),
        (
            "voc_box_outside",
            boxes_outside(objects, cand.width or 0, cand.height or 0),
            f"are not inside the {size} image",
        ),
    ]
    found = [(rule, names, what) for rule, names, what in problems if names]
    if not found:
        cand.annotations = [ImportedAnnotation(**obj) for obj in objects]
        return cand
    # The seed's rule: such an image is imported, but unlabeled, and each problem is reported.
    if warnings is not None:
        warnings.extend(
            FileError(file, rule, f"boxes of {', '.join(names)} {what}; the image was imported unlabeled")
            for rule, names, what in found
        )
    return cand


def _sound_unit(unit: Unit, data: bytes, settings: Settings, import_annotations: bool) -> Candidate:
    try:
        duration = check_audio(data, settings)
        folder = posixpath.dirname(unit.path)
        use_folder = folder and import_annotations and unit.annotations is None
        label = check_label(posixpath.basename(folder), allow_chinese=True) if use_folder else None
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    cand = Candidate(unit.path, unit.uri, unit.uri, 2, len(data), duration=duration)
    if unit.annotations is not None:
        cand.annotations = unit.annotations
    else:
        cand.annotations = [ImportedAnnotation(name=label)] if label else []
    return cand


async def _text_unit(unit: Unit, companion: str | None, load: Loader, settings: Settings) -> list[Candidate]:
    try:
        raw = await load(unit.path)
        lines = decode_text(raw, settings.text_max_bytes).splitlines()
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    labels: list[str] = [""] * len(lines)
    if companion is not None:
        try:
            result = decode_text(
                await load(companion), settings.text_max_bytes, allow_empty=True
            ).splitlines()
            result = _aligned(result, len(lines), companion)
            labels = [check_label(r, allow_chinese=True) if r.strip() else "" for r in result]
        except Rejected as exc:
            raise _reject(companion, exc) from exc
    out = []
    for number, (line, label) in enumerate(zip(lines, labels, strict=True), start=1):
        if not line.strip():
            continue
        ann = [ImportedAnnotation(name=label)] if label else []
        out.append(
            Candidate(
                f"{unit.path}#{number}",
                f"content://{line}",
                f"{unit.uri}#{number}",
                1,
                len(line.encode()),
                text=line,
                annotations=ann,
            )
        )
    if not out:
        raise UnitRejected(FileError(unit.path, "empty_file", "the text file has no non-empty line"))
    return out


def _aligned(result: list[str], count: int, companion: str) -> list[str]:
    """The label lines of ``count`` text lines: one each (blank lines past the end label nothing)."""
    end = len(result)
    while end > count and not result[end - 1].strip():
        end -= 1
    if end != count:
        # Too few or too many: the files do not belong together, and guessing would mislabel.
        raise Rejected(
            "result_lines",
            f"{end} label lines for {count} text lines; "
            f"{posixpath.basename(companion)} must have one line per text line",
        )
    return result[:count]


def _table_unit(unit: Unit, data: bytes, settings: Settings, table: TableContext | None) -> Candidate:
    assert table is not None
    try:
        text = decode_text(data, settings.table_max_bytes)
        frame = read_csv(text, with_header=table.with_header, max_columns=settings.table_max_columns)
        schema = infer_schema(frame)
        _match_schema(schema, table)
    except Rejected as exc:
        raise _reject(unit.path, exc) from exc
    # The version check's rules a part already breaks: reported now, the check stays the gate.
    label = table.label_column or schema[-1]["name"]
    warnings = [
        FileError(unit.path, v.rule, v.msg, column=v.column)
        for v in check_table_part(column_stats(frame, schema), label)
    ]
    return Candidate(
        unit.path, unit.uri, unit.uri, 4, len(data), row_count=len(frame), schema=schema, warnings=warnings
    )


def _match_schema(schema: list[dict[str, Any]], table: TableContext) -> None:
    names = [c["name"] for c in schema]
    if table.label_column and table.label_column not in names:
        raise Rejected(
            "label_column", f"label column {table.label_column!r} is not one of the columns {names[:10]}…"
        )
    if len(names) < 2:
        raise Rejected("table_columns", "a table needs at least one feature column and a label column")
    if table.schema is not None and names != [c["name"] for c in table.schema]:
        raise Rejected("table_schema", f"the columns {names[:10]} differ from the dataset's columns")
