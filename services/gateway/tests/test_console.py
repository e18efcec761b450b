"""The web console at / in the embedded mode: its files, the SPA fallback, and the API paths it never shadows."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gateway.config import Settings
from gateway.embedded import build_embedded_app

INDEX = "<!doctype html><title>ExeML console</title>"


@pytest.fixture
def console_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text("console.log('exeml')")
    (tmp_path / "secret.txt").write_text("outside the console")
    return root


@pytest.fixture
async def client(console_dir: Path, tmp_path: Path, monkeypatch) -> httpx.AsyncClient:
    monkeypatch.setenv("EXEML_DATA_DIR", str(tmp_path / "data"))
    app = build_embedded_app(Settings(console_dir=console_dir))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://exeml") as c:
        yield c


async def test_console_files_and_client_routes_get_the_app(client: httpx.AsyncClient) -> None:
    for path in ("/", "/projects", "/projects/abc/labeling?sample=3"):
        response = await client.get(path)
        assert response.status_code == 200 and response.text == INDEX, path
        assert response.headers["cache-control"] == "no-cache"
    asset = await client.get("/assets/app-1a2b.js")
    assert asset.text == "console.log('exeml')" and "immutable" in asset.headers["cache-control"]


async def test_missing_files_and_paths_outside_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/assets/old-9f9f.js")).status_code == 404
    assert (await client.get("/favicon.ico")).status_code == 404
    assert (await client.get("/../secret.txt")).status_code == 404
    assert (await client.get("/%2e%2e/secret.txt")).status_code == 404


async def test_api_and_documents_are_never_shadowed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["service"] == "gateway"
    assert (await client.get("/docs")).text.count("swagger-ui") > 0
    unknown_api = await client.get("/v1/no-such-resource")
    assert (
        unknown_api.status_code == 401 and unknown_api.json()["error_code"]
    )  # the API answers, not the page
    for path in ("/healthz/x", "/docs/x", "/internal/datasets", "/openapi.json/x", "/v1"):
        response = await client.get(path)
        assert response.status_code == 404 and INDEX not in response.text, path


async def test_without_a_build_only_the_api_is_served(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EXEML_DATA_DIR", str(tmp_path / "data"))
    app = build_embedded_app(Settings(console_dir=tmp_path / "absent"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://exeml") as c:
        assert (await c.get("/")).status_code == 404
        assert (await c.get("/healthz")).status_code == 200
