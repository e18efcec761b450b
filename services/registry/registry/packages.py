"""Model packages in object storage: read, validate, copy, unpack uploads and pack exports.

A package is a prefix holding ``manifest.json`` and the artifacts it names (``shared.packages``). The
registry keeps its own copy of every registered package under ``models/<tenant>/<model>/<version>/`` so a
version stays deployable and exportable whatever happens to the trainer's files.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from registry.errors import InvalidPackage
from shared.errors import ErrorDetail, ExeMLError, InvalidInput
from shared.json_limits import check_json
from shared.packages import MANIFEST_NAME, PackageError, read_manifest
from shared.storage import ObjectStore, S3Uri
from shared.storage.tenancy import check_relative

__all__ = ["pack_archive", "read_package", "store_package", "unpack_archive", "validate_package"]


async def read_package(store: ObjectStore, prefix: S3Uri) -> dict[str, bytes]:
    """Every object under ``prefix`` (relative path -> bytes)."""
    base = prefix.key.rstrip("/") + "/" if prefix.key else ""
    files: dict[str, bytes] = {}
    for info in await store.list(prefix.bucket, base):
        files[info.key[len(base) :]] = await store.get(info.uri)
    return files


def validate_package(files: dict[str, bytes], *, source: str) -> dict[str, Any]:
    """The package's manifest, after checking it and that every artifact it names is present."""
    if MANIFEST_NAME not in files:
        raise _invalid("package_manifest_missing", f"{source} has no {MANIFEST_NAME} at its root", source)
    try:  # the manifest is the uploader's JSON: limited like any JSON the platform parses
        check_json(files[MANIFEST_NAME], what=MANIFEST_NAME)
    except ExeMLError as exc:
        raise _invalid(exc.details[0].rule, exc.error_msg, source) from exc
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, MANIFEST_NAME).write_bytes(files[MANIFEST_NAME])
        try:
            manifest = read_manifest(Path(tmp))
        except PackageError as exc:
            raise _invalid("package_manifest_invalid", str(exc), source) from exc
    missing = [p for p in manifest["artifacts"].values() if not isinstance(p, str) or p not in files]
    if missing:
        raise _invalid("package_artifact_missing", f"artifacts missing from the package: {missing}", source)
    return manifest


async def store_package(store: ObjectStore, files: dict[str, bytes], prefix: S3Uri) -> int:
    """Write the package under ``prefix``; returns its size in bytes."""
    for path, data in files.items():
        await store.put(prefix.join(path), data)
    return sum(len(d) for d in files.values())


def _safe_member(name: str, source: str) -> str | None:
    """The member's path inside the package; 403 (storage_path_traversal) if any reading of it leaves it."""
    if name.endswith("/") or not PurePosixPath(name).parts:
        return None
    if PurePosixPath(name).is_absolute():
        raise _invalid("package_path_absolute", f"archive member {name!r} is an absolute path", source)
    return check_relative(name, field=f"{source}: {name}") or None


def unpack_archive(data: bytes, *, source: str, max_bytes: int) -> dict[str, bytes]:
    """Files of an uploaded zip or tar(.gz) package; a single top folder is stripped."""
    try:
        files = (
            _unzip(data, source, max_bytes)
            if zipfile.is_zipfile(io.BytesIO(data))
            else _untar(data, source, max_bytes)
        )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise _invalid(
            "package_archive_invalid", f"{source} is not a zip or tar archive: {exc}", source
        ) from exc
    tops = {p.split("/", 1)[0] for p in files}
    if MANIFEST_NAME not in files and len(tops) == 1 and all("/" in p for p in files):
        top = tops.pop() + "/"
        files = {p[len(top) :]: d for p, d in files.items()}
    return files


def _unzip(data: bytes, source: str, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(i.file_size for i in archive.infolist()) > max_bytes:
            raise _invalid("package_too_large", f"{source} unpacks to more than {max_bytes} bytes", source)
        for info in archive.infolist():
            name = _safe_member(info.filename, source)
            if name is not None:
                files[name] = archive.read(info)
    return files


def _untar(data: bytes, source: str, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            name = _safe_member(member.name, source)
            total += member.size
            if total > max_bytes:
                raise _invalid(
                    "package_too_large", f"{source} unpacks to more than {max_bytes} bytes", source
                )
            extracted = archive.extractfile(member)
            if name is not None and extracted is not None:
                files[name] = extracted.read()
    return files


def pack_archive(files: dict[str, bytes], top: str) -> bytes:
    """A tar.gz of the package under one folder ``top``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _invalid(rule: str, msg: str, source: str) -> InvalidInput:
    return InvalidPackage(msg, details=[ErrorDetail(rule=rule, msg=msg, file=source)])
