"""The web console (``frontend/``) for tests: its tools, its npm packages and its build.

Node.js and Debian's Chromium are installed by the Makefile; without them these tests skip on a developer's
machine and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "FRONTEND", "console_built", "npm_ready"]

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CHROMIUM = Path(os.environ.get("EXEML_CHROMIUM", "/usr/bin/chromium"))


def _missing(what: list[str]) -> None:
    message = f"{', '.join(what)} missing: `make test` installs them (Node.js 20 with npm; apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: console tests never skip)", pytrace=False)
    pytest.skip(message)


def npm_ready(*, browser: bool = False) -> str:
    """The ``npx`` to run the console's tools with, its packages installed from the lock file."""
    npx = shutil.which("npx")
    missing = [
        name for name, ok in (("node/npx", npx), ("chromium", not browser or CHROMIUM.exists())) if not ok
    ]
    if missing:
        _missing(missing)
    if not (FRONTEND / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    return str(npx)


def console_built() -> None:
    """``frontend/dist`` from the current sources (what ``make run`` serves)."""
    dist = FRONTEND / "dist" / "index.html"
    sources = [p for p in (FRONTEND / "src").rglob("*") if p.is_file() and ".test." not in p.name]
    if not dist.exists() or max(p.stat().st_mtime for p in sources) > dist.stat().st_mtime:
        subprocess.run(["npm", "run", "build"], cwd=FRONTEND, check=True)
