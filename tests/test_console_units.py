"""The web console's own checks: the typed API client matches the platform's OpenAPI document, and the
Vitest component tests of the labeling widgets (keyboard and drawing logic) pass."""

from __future__ import annotations

import asyncio
import subprocess

from gateway.openapi_dump import openapi_document, openapi_text

from shared.testing.console import FRONTEND, npm_ready


def test_generated_api_types_are_current(tmp_path) -> None:
    npx = npm_ready()
    (tmp_path / "openapi.json").write_text(openapi_text(asyncio.run(openapi_document())))
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [
            npx,
            "openapi-typescript",
            str(tmp_path / "openapi.json"),
            "--default-non-nullable=false",
            "-o",
            str(fresh),
        ],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
    )
    committed = (FRONTEND / "src" / "api" / "schema.d.ts").read_text()
    assert fresh.read_text() == committed, (
        "frontend/src/api/schema.d.ts is stale: the API changed; run `make console-api` and commit the result"
    )


def test_labeling_widgets_vitest() -> None:
    npx = npm_ready()
    result = subprocess.run(
        [npx, "vitest", "run"], check=False, cwd=FRONTEND, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
