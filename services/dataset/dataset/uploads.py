"""An upload's files, file by file: which are read, which are rejected and why, and the error when none is kept.

An upload keeps its valid files, as an import task does: each rejected file is named with its rule, and the file
that goes with a rejected one (an image and its label file, a text file and its ``_result.txt``) is listed too,
since it is not stored either. Only a request as a whole (no file, a path leaving the input folder, more bytes
than one upload may carry) is refused before any file is looked at.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

from fastapi import UploadFile

from dataset.config import Settings
from dataset.errors import SamplesExist
from dataset.layouts import FileError
from dataset.validation import Rejected, check_name
from shared.errors import ErrorDetail, ExeMLError, InvalidInput, PayloadTooLarge

__all__ = ["PAIR_REJECTED", "SAMPLE_EXISTS", "leftovers", "nothing_stored", "read_uploads"]

PAIR_REJECTED = "pair_rejected"
SAMPLE_EXISTS = "sample_exists"
FILE_TOO_LARGE = "file_too_large"


async def read_uploads(
    files: list[UploadFile], settings: Settings, check_path: Callable[[str], object]
) -> tuple[dict[str, bytes], list[FileError]]:
    """The files' bytes by name, and the files rejected for their name or size.

    ``check_path`` raises (403) for a name that leaves the input folder: that refuses the whole request.
    """
    if not files:
        raise InvalidInput(
            "no file uploaded",
            details=[ErrorDetail("files_required", "send one or more files", field="files")],
        )
    contents: dict[str, bytes] = {}
    rejected: list[FileError] = []
    total = 0
    for upload in files:
        name = (upload.filename or "").strip()
        check_path(name)
        data = await upload.read(settings.upload_max_bytes + 1 - total)
        total += len(data)
        if total > settings.upload_max_bytes:
            raise _upload_too_large(settings.upload_max_bytes, name)
        problem = _file_problem(name, len(data), settings)
        if problem is None:
            contents[name] = data
        else:
            rejected.append(problem)
    return contents, rejected


def _file_problem(name: str, size: int, settings: Settings) -> FileError | None:
    try:
        check_name(name)
    except Rejected as exc:
        return FileError(name, exc.rule, exc.msg, exc.field)
    limit = _file_limit(name, settings)
    if size > limit:
        return FileError(name, FILE_TOO_LARGE, f"the file has {size} bytes; at most {limit}")
    return None


def _file_limit(name: str, settings: Settings) -> int:
    ext = posixpath.splitext(name.lower())[1]
    image, audio = settings.image_max_bytes, settings.audio_max_bytes
    limits = {".jpg": image, ".jpeg": image, ".png": image, ".bmp": image, ".wav": audio}
    return limits.get(ext, settings.text_max_bytes)


def _upload_too_large(limit: int, name: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the upload is larger than {limit} bytes",
        details=[ErrorDetail("upload_too_large", f"one upload may carry at most {limit} bytes", file=name)],
    )


def _pair_key(name: str) -> str:
    """Files that form one sample share it: ``x.jpg``/``x.txt``/``x.xml``, ``t.txt``/``t_result.txt``."""
    return posixpath.splitext(name)[0].lower().removesuffix("_result")


def leftovers(
    names: Iterable[str], stored: set[str], rejected: list[FileError], extensions: tuple[str, ...]
) -> list[FileError]:
    """The uploaded files neither stored nor named yet: the partner of a rejected file, or a lone companion."""
    causes = {_pair_key(r.file): r for r in rejected}
    out = []
    for name in sorted(set(names) - stored - {r.file for r in rejected}):
        cause = causes.get(_pair_key(name))
        if cause is not None:
            msg = f"not stored: it goes with {cause.file}, which was rejected ({cause.rule})"
            out.append(FileError(name, PAIR_REJECTED, msg))
        else:
            msg = (
                f"{name} is a companion file but no {'/'.join(extensions)} "
                "sample of the same name is uploaded with it"
            )
            out.append(FileError(name, "companion_without_sample", msg))
    return out


def nothing_stored(rejected: list[FileError]) -> ExeMLError:
    """The error of an upload none of whose files is kept: 409 if they all exist, 413 if all are too large."""
    details = [ErrorDetail(rule=e.rule, msg=e.msg, field=e.field, file=e.file) for e in rejected]
    causes = {e.rule for e in rejected if e.rule != PAIR_REJECTED}
    if causes == {SAMPLE_EXISTS}:
        return SamplesExist("samples already exist", details=details)
    if causes == {FILE_TOO_LARGE}:
        return PayloadTooLarge("the files are larger than allowed", details=details)
    return InvalidInput("none of the uploaded files is accepted", details=details)
