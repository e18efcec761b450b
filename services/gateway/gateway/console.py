"""The web console's built files (``frontend/dist``) served at ``/`` in the embedded mode.

Client-side routes (``/projects/…``) have no file: they get ``index.html`` so a reload or a shared link opens
the page (SPA fallback). The API and the documents keep their paths: a path under one of ``RESERVED`` that no
route answered is a plain 404, never the console's page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["RESERVED", "console_router", "default_console_dir"]

RESERVED = (
    "v1",
    "internal",
    "docs",
    "redoc",
    "openapi.json",
    "asyncapi.json",
    "healthz",
    "readyz",
    "metrics",
)
# Hashed asset names change with each build: cache them for long; index.html must always be fresh.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_FRESH = {"Cache-Control": "no-cache"}


def default_console_dir() -> Path:
    """``frontend/dist`` of the source tree (where ``make run`` builds it)."""
    return Path(__file__).resolve().parents[3] / "frontend" / "dist"


def _reserved(path: str) -> bool:
    first = path.split("/", 1)[0]
    return first in RESERVED


def console_router(root: Path) -> APIRouter:
    """GET routes for the console under ``root``; include it after every other router."""
    root = root.resolve()
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def console(path: str) -> FileResponse:
        if _reserved(path):
            raise StarletteHTTPException(404)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            immutable = candidate.parent.name == "assets"
            return FileResponse(candidate, headers=_IMMUTABLE if immutable else _FRESH)
        if "." in path.rsplit("/", 1)[-1]:  # a missing file (favicon.ico, an old asset), not a page
            raise StarletteHTTPException(404)
        return FileResponse(root / "index.html", headers=_FRESH)

    return router
