"""Import from a ModelArts manifest (JSON Lines, lenient spellings): one unit per line."""

from __future__ import annotations

from dataset.config import Settings
from dataset.layouts import FileError, Unit
from dataset.types import DatasetKind
from dataset.validation import Rejected, check_label, decode_text
from shared.errors import ExeMLError, Forbidden, NotFound
from shared.events.dataset import ImportedAnnotation
from shared.manifest import ManifestError, ManifestLine, parse_line
from shared.storage import S3Uri
from shared.storage.tenancy import TenantStorage, refusal_rule

__all__ = ["manifest_units"]


def _annotations(line: ManifestLine, kind: DatasetKind) -> list[ImportedAnnotation] | None:
    """The line's labels; ``None`` when a detection line points to a VOC file instead."""
    if kind.is_detection:
        objects = [o for a in line.annotations for o in a.objects]
        if not objects and any(a.annotation_loc for a in line.annotations):
            return None
        return [
            ImportedAnnotation(
                name=check_label(str(o.get("name", ""))),
                bndbox={k: float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")},
                pose=str(o.get("pose", "Unspecified")),
                truncated=int(o.get("truncated", 0)),
                occluded=int(o.get("occluded", 0)),
                difficult=int(o.get("difficult", 0)),
            )
            for o in objects
        ]
    return [
        ImportedAnnotation(
            name=check_label(name, allow_chinese=kind.chinese_labels), annotated_by=a.annotated_by
        )
        for a in line.annotations
        if (name := a.name)
    ]


def _source(storage: TenantStorage, path: str, field: str) -> S3Uri:
    """A line's object, if the tenant may name it; the refusal names the rule, never another object."""
    try:
        return storage.resolve(path, field=field)
    except Forbidden as exc:
        raise Rejected(
            refusal_rule(exc) or "storage_area",
            f"the {field} is not in the tenant's storage areas: "
            f"{exc.details[0].msg if exc.details else exc.error_msg}",
        ) from exc


def _unit(line: ManifestLine, number: int, manifest: str, kind: DatasetKind, storage: TenantStorage) -> Unit:
    annotations = _annotations(line, kind)
    if line.is_inline_text:
        if not kind.is_text:
            raise Rejected("manifest_source", "inline content:// text only belongs in a text dataset")
        return Unit(f"line {number}", f"{manifest}#{number}", text=line.text, annotations=annotations or [])
    uri = _source(storage, line.source, "source")
    companion = None
    if annotations is None:
        loc = next(a.annotation_loc for a in line.annotations if a.annotation_loc)
        loc_uri = _source(storage, loc, "annotation_loc")
        companion = f"{loc_uri.bucket}/{loc_uri.key}"
    return Unit(f"{uri.bucket}/{uri.key}", str(uri), companion, annotations=annotations)


async def manifest_units(storage: TenantStorage, manifest: str, kind: DatasetKind, settings: Settings):
    """Units of every line that parses; the others are reported with their line number."""
    if kind.is_table:
        return (
            [],
            [FileError(manifest, "manifest_type", "tables are imported from CSV folders, not manifests")],
            None,
        )
    text = decode_text(
        await storage.get(storage.resolve(manifest, field="import_path")), settings.table_max_bytes
    )
    units: list[Unit] = []
    errors: list[FileError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            units.append(_unit(parse_line(raw, number), number, manifest, kind, storage))
        except ManifestError as exc:
            errors.append(FileError(f"{manifest}#{number}", "manifest_line", str(exc)))
        except (Rejected, ExeMLError, ValueError, KeyError, TypeError) as exc:
            rule = exc.rule if isinstance(exc, Rejected) else "manifest_line"
            msg = getattr(exc, "msg", None) or getattr(exc, "error_msg", None) or str(exc)
            errors.append(FileError(f"{manifest}#{number}", rule, msg))

    async def load(path: str) -> bytes:
        bucket, _, key = path.partition("/")
        try:
            return await storage.get(S3Uri(bucket, key))
        except NotFound as exc:
            raise Rejected("file_missing", f"cannot read {path}: the object does not exist") from exc
        except ExeMLError as exc:
            raise Rejected(
                refusal_rule(exc) or "file_unreadable", f"cannot read {path}: {exc.error_msg}"
            ) from exc

    return units, errors, load
