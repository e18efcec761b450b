"""Every service app starts and answers its health endpoints; services refuse calls without a token."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from dataset.definition import SERVICE
from fastapi import APIRouter

from shared.auth import INTERNAL_TOKEN_HEADER, Principal, PrincipalDep
from shared.context import current_context
from shared.service import create_service_app
from shared.testing.infra import require_tcp
from shared.testing.live import free_port

SERVICES = ["gateway", "dataset", "labeling", "trainer", "registry", "inference", "workflow"]
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("service", SERVICES)
async def test_service_app_answers_health(service: str, tmp_path) -> None:
    settings = importlib.import_module(f"{service}.config").Settings(data_dir=tmp_path)
    app = importlib.import_module(f"{service}.app").create_app(settings)
    await app.state.runtime.migrate()  # as the migrate one-shot does before an API starts
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        health = await client.get("/healthz", headers={"X-Request-ID": "req-1"})
        assert health.status_code == 200 and health.json()["service"] == service
        assert health.headers["X-Request-ID"] == "req-1"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        metrics = await client.get("/metrics")
        assert "exeml_http_requests_total" in metrics.text


async def test_readyz_reports_a_dead_database(tmp_path) -> None:
    settings = importlib.import_module("dataset.config").Settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    app = importlib.import_module("dataset.app").create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("error")


async def test_internal_token_is_required_and_verified(tmp_path) -> None:
    router = APIRouter()

    @router.get("/v1/whoami")
    async def whoami(principal: PrincipalDep) -> dict[str, str]:
        return {"tenant": principal.tenant_id, "ctx_tenant": current_context().tenant_id or ""}

    settings = SERVICE.settings_cls(data_dir=tmp_path)
    app = create_service_app(SERVICE, settings, extra_routers=[router])
    token = app.state.token_codec.issue(Principal(tenant_id="acme", subject="u1", roles=("developer",)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        missing = await client.get("/v1/whoami")
        forged = await client.get("/v1/whoami", headers={INTERNAL_TOKEN_HEADER: token[:-4] + "AAAA"})
        ok = await client.get("/v1/whoami", headers={INTERNAL_TOKEN_HEADER: token})
    assert missing.status_code == 401 and missing.json()["error_code"] == "ModelArts.0201"
    assert forged.status_code == 401 and forged.json()["error_code"] == "ModelArts.0203"
    assert ok.json() == {"tenant": "acme", "ctx_tenant": "acme"}


def test_make_run_starts_the_embedded_platform(tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "EXEML_PORT": str(port), "EXEML_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        assert body == {"status": "ok", "service": "gateway"}
        key = (tmp_path / "data" / "api-key").read_text().strip()
        denied = httpx.get(f"http://127.0.0.1:{port}/v1/datasets")
        assert denied.status_code == 401
        routed = httpx.get(
            f"http://127.0.0.1:{port}/v1/datasets",
            headers={"X-Auth-Token": key, "X-Correlation-ID": "corr-1"},
        )
        # authenticated and routed to the dataset app (which answers its list)
        assert routed.status_code == 200 and routed.json() == {"items": [], "total": 0}
        assert routed.headers.get_list("X-Correlation-ID") == ["corr-1"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early: {proc.stdout.read().decode()[-3000:]}")
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.5)
    raise AssertionError("embedded platform did not answer /healthz in time")


def test_missing_server_fails_with_a_clear_message() -> None:
    """The infrastructure guard fails (never skips) and names the server and the fix."""
    with pytest.raises(pytest.fail.Exception) as failure:
        require_tcp("RabbitMQ", "127.0.0.1", free_port())
    assert "RabbitMQ is not reachable" in str(failure.value) and "rabbitmq-server -detached" in str(
        failure.value
    )


def test_ci_run_fails_when_postgres_is_missing(tmp_path) -> None:
    """A whole pytest run with CI=true and an unreachable PostgreSQL exits non-zero, with no skips."""
    env = {
        **os.environ,
        "CI": "true",
        "EXEML_TEST_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_migrations.py::test_drift_is_detected",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "PostgreSQL is not reachable" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]
