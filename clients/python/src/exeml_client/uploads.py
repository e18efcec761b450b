"""Uploading a folder: files grouped with their companions (``x.jpg`` + ``x.txt``/``x.xml``, ``t.txt`` +
``t_result.txt``), packed into requests of a few MB, and every file accounted for.

The API stores a request's valid files and names each rejected one with its rule (207; a 4xx naming every file
when none is stored), so one bad file costs only itself. An older API that stores all or none is answered by
sending the request again without the files it named (and their companions). Files that already exist (and the
companions of those) are reported as skipped, so running an upload twice is harmless.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exeml_client.client import Client
from exeml_client.errors import BadRequest, Conflict, PayloadTooLarge
from exeml_client.models import UploadResult

__all__ = ["FileOutcome", "plan_batches", "upload_folder"]

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # half the API's default limit of one upload (8 MB)
MAX_REQUEST_FILES = 100
_MAX_TRIES = 4  # an older API named bad names, then bad samples, then duplicates, one kind a round


@dataclass(frozen=True)
class FileOutcome:
    """One file: ``uploaded`` (``rule``/``msg`` set when stored with a warning), ``skipped`` or ``failed``."""

    file: str
    status: Literal["uploaded", "skipped", "failed"]
    rule: str = ""
    msg: str = ""


def _group_key(path: Path) -> tuple[Path, str]:
    return path.parent, path.stem.removesuffix("_result")


def plan_batches(folder: Path, max_bytes: int = MAX_REQUEST_BYTES) -> list[list[Path]]:
    """The folder's files (hidden ones left out) in requests, companions always in the same request."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in files:
        groups.setdefault(_group_key(path), []).append(path)
    batches: list[list[Path]] = [[]]
    size = 0
    for group in groups.values():
        group_size = sum(p.stat().st_size for p in group)
        if batches[-1] and (
            size + group_size > max_bytes or len(batches[-1]) + len(group) > MAX_REQUEST_FILES
        ):
            batches.append([])
            size = 0
        batches[-1].extend(group)
        size += group_size
    return [b for b in batches if b]


def upload_folder(
    client: Client, dataset_id: str, folder: Path, on_batch: Callable[[int, int], None] | None = None
) -> list[FileOutcome]:
    """Upload every file under ``folder``; ``on_batch(files, bytes)`` after each request."""
    outcomes: list[FileOutcome] = []
    for batch in plan_batches(folder):
        outcomes += _upload_batch(client, dataset_id, folder, batch)
        if on_batch:
            on_batch(len(batch), sum(p.stat().st_size for p in batch))
    return outcomes


def _upload_batch(client: Client, dataset_id: str, folder: Path, batch: list[Path]) -> list[FileOutcome]:
    outcomes: list[FileOutcome] = []
    pending = {p.relative_to(folder).as_posix(): p for p in batch}
    for _ in range(_MAX_TRIES):
        files = [
            (name, path.read_bytes(), mimetypes.guess_type(name)[0] or "application/octet-stream")
            for name, path in pending.items()
        ]
        try:
            answer = client.datasets.upload(dataset_id, files)
            return outcomes + _answer_outcomes(answer, pending)
        except (BadRequest, Conflict, PayloadTooLarge) as exc:
            named = exc.files()
            if not named.keys() & pending.keys():
                return outcomes + [FileOutcome(n, "failed", exc.error_code, exc.error_msg) for n in pending]
            outcomes += _named_outcomes(named, pending)
            dropped = {_group_key(pending[n]) for n in named if n in pending}
            for name in [n for n, p in pending.items() if _group_key(p) in dropped]:
                if name not in named:
                    outcomes.append(
                        FileOutcome(name, "skipped", "companion_left_out", "its sample was not uploaded")
                    )
                del pending[name]
        if not pending:
            return outcomes
    return outcomes + [
        FileOutcome(n, "failed", "too_many_rejections", "rejected again and again") for n in pending
    ]


def _answer_outcomes(answer: UploadResult, pending: dict[str, Path]) -> list[FileOutcome]:
    """Each file of a request the API answered 2xx: stored (with its warnings, if any), or rejected (207)."""
    rejected = _named_outcomes({r.file: [r.model_dump()] for r in answer.rejected}, pending)
    warned: dict[str, list[str]] = {}
    for w in answer.warnings:
        warned.setdefault(w.file, []).extend((w.rule, w.msg))
    named = {o.file for o in rejected}
    return rejected + [
        FileOutcome(n, "uploaded", ", ".join(warned[n][::2]), "; ".join(warned[n][1::2]))
        if n in warned
        else FileOutcome(n, "uploaded")
        for n in pending
        if n not in named
    ]


def _named_outcomes(named: dict[str, list[dict]], pending: dict[str, Path]) -> list[FileOutcome]:
    """Files the API named as not stored: skipped when they (or the sample they go with) exist already."""
    exists = {_group_key(pending[n]) for n, ds in named.items() if n in pending and _all_exist(ds)}
    out = []
    for name, details in named.items():
        if name not in pending:
            continue
        paired = (
            all(d.get("rule") == "pair_rejected" for d in details) and _group_key(pending[name]) in exists
        )
        skipped = _all_exist(details) or paired
        rule, msg = details[0].get("rule", ""), "; ".join(d.get("msg", "") for d in details)
        out.append(FileOutcome(name, "skipped" if skipped else "failed", rule, msg))
    return out


def _all_exist(details: list[dict]) -> bool:
    return all(d.get("rule") == "sample_exists" for d in details)
