"""One ``make run`` process (``python -m gateway.embedded``: SQLite, local object store, in-memory bus) for the
client's tests, with an admin key, tiny training budgets and a config folder of their own for the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from exeml_client import Client

from shared.testing.live import embedded_process
from shared.testing.platform import FAST_EMBEDDED_ENV, FAST_ENGINE_ENV, SMALL_DATA_CHECK_ENV

ADMIN_KEY = "exeml_client-admin-key-00000000000000000000000"
# The trainer's budget for every job (a project's minutes are at least 6): starting the job's process and loading the
# engines' libraries took 30 s of a 20 s budget on a loaded 2-core machine (load 9); small, fast candidates.
PLATFORM_ENV = {
    **FAST_ENGINE_ENV,
    **FAST_EMBEDDED_ENV,
    **SMALL_DATA_CHECK_ENV,  # the tests' datasets hold a few dozen samples
    "EXEML_BOOTSTRAP_API_KEY": ADMIN_KEY,
    "EXEML_LOG_LEVEL": "WARNING",
    "EXEML_TRAINER_BUDGET_CAP_SECONDS": "40",
}


@dataclass(frozen=True)
class Gateway:
    url: str
    key: str
    objects: Path  # the local object store's folder: s3://<bucket>/<key> is objects/<bucket>/<key>

    def client(self) -> Client:
        return Client(self.url, self.key, timeout=120)

    def openapi(self) -> dict:
        return httpx.get(f"{self.url}/openapi.json", timeout=60).raise_for_status().json()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("client-platform")
    with embedded_process(data_dir, PLATFORM_ENV) as url:
        yield Gateway(url, ADMIN_KEY, data_dir / "objects")


@pytest.fixture
def api(gateway: Gateway) -> Iterator[Client]:
    with gateway.client() as client:
        yield client


@pytest.fixture(scope="session")
def openapi(gateway: Gateway) -> dict:
    return gateway.openapi()


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where ``exeml login`` writes, for this test only."""
    folder = tmp_path / "exeml-config"
    monkeypatch.setenv("EXEML_CONFIG_DIR", str(folder))
    return folder
