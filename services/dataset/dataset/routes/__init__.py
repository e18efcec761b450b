"""HTTP routes of the dataset service (public API under ``/v1``)."""

from typing import Annotated

from fastapi import Path

from shared.auth import WriterDep
from shared.naming import ID_PATTERN

__all__ = ["DatasetId", "SampleId", "TaskId", "VersionId", "WriterDep", "id_path"]


def id_path(what: str, example: str) -> object:
    """A resource id in the path: letters, digits, ``-``, ``_`` (anything else cannot name a resource: 400)."""
    return Path(pattern=ID_PATTERN, description=f"The {what}'s id", examples=[example])


DatasetId = Annotated[str, id_path("dataset", "3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e")]
TaskId = Annotated[str, id_path("import task", "8b1d4f6a2c3e4a5b9c7d0e1f2a3b4c5d")]
SampleId = Annotated[str, id_path("sample", "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f")]
VersionId = Annotated[str, id_path("version", "5e7a9c1b3d2f4e6a8b0c1d2e3f4a5b6c")]
