"""Where ``exeml login`` keeps the API's URL and key: ``config.json`` in the user's config folder
(``$EXEML_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/exeml`` or the platform's equivalent), readable by the user only.
``EXEML_URL`` and ``EXEML_API_KEY`` override it (CI, scripts)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

__all__ = ["Credentials", "config_dir", "load", "save"]


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str


def config_dir() -> Path:
    return Path(os.environ.get("EXEML_CONFIG_DIR") or typer.get_app_dir("exeml"))


def save(credentials: Credentials) -> Path:
    """Write the file with mode 0600 from its creation on (never briefly readable by others)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "config.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(credentials), out)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return path


def load() -> Credentials | None:
    url, key = os.environ.get("EXEML_URL"), os.environ.get("EXEML_API_KEY")
    path = config_dir() / "config.json"
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        url, key = url or stored.get("url"), key or stored.get("api_key")
    return Credentials(url, key) if url and key else None
