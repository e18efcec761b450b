"""A platform of real services for cross-service tests: PostgreSQL, RabbitMQ and S3, all in-process apps.

``platform_factory(["dataset", "labeling"])`` builds each service's runtime in the distributed mode against
PostgreSQL (one fresh schema per service), RabbitMQ (an exchange/queue namespace of its own, so parallel test
runs on one broker never see each other's messages) and the moto S3 server (a fresh bucket), migrates and
starts them (outbox relays and consumers running), and lets them call each other in-process through
:class:`shared.service.Peers`. ``platform.client("dataset", tenant_id="t1")`` is an ``httpx.AsyncClient`` on
that service's app carrying an internal token for the tenant, as the gateway would send it.

With ``bus="memory"`` the services share one in-memory broker instead (fast unit-level tests).
Everything is torn down after the test: schemas dropped, queues and exchanges deleted, bucket emptied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.context import new_id
from shared.messaging import InMemoryBroker
from shared.service import ServiceRuntime, build_runtime, load_definition, load_service_app
from shared.settings import ServiceSettings
from shared.storage.tenancy import StoragePolicy
from shared.testing.bus import delete_queues
from shared.testing.infra import AMQP_URL, POSTGRES_URL, require_tcp
from shared.testing.s3 import S3Server

__all__ = ["SMALL_DATA_CHECKS", "SMALL_DATA_CHECK_ENV", "Platform", "platform_factory", "wait_until"]

# Tests that train use one torch/onnxruntime thread (the engines plan from measured step cost, so their own
# choice is fast on small data) and, in the embedded mode, a short training budget and quick loops.
TRAIN_BUDGET_SECONDS = 20
FAST_ENGINE_ENV = {
    "EXEML_TORCH_THREADS": "1",
    "EXEML_ORT_THREADS": "1",
}
FAST_EMBEDDED_ENV = {
    "EXEML_TRAINER_BUDGET_CAP_SECONDS": str(TRAIN_BUDGET_SECONDS),
    "EXEML_TRAINER_WORKER_POLL_SECONDS": "0.2",
    "EXEML_TRAINER_HEARTBEAT_SECONDS": "1",
    "EXEML_TRAINER_PACKAGING_MARGIN_SECONDS": "5",
    "EXEML_INFERENCE_RECONCILE_INTERVAL_SECONDS": "0.2",
    "EXEML_INFERENCE_UNLOAD_GRACE_SECONDS": "0.2",
    "EXEML_OUTBOX_POLL_SECONDS": "0.1",
}

# The guide's data-check thresholds (100 labeled images, 50 labeled images a detection class) want datasets bigger
# than tests that go through a whole round can afford. Those tests lower them explicitly, as an operator may for a
# demo: SMALL_DATA_CHECKS as the dataset service's settings (platform_factory overrides), SMALL_DATA_CHECK_ENV
# for a platform process. The guide's own numbers are tested at their defaults in services/dataset/tests.
SMALL_DATA_CHECKS: dict[str, Any] = {
    "check_min_labeled_images": 10,
    "check_min_detection_samples_per_class": 5,
}
SMALL_DATA_CHECK_ENV = {f"EXEML_DATASET_{k.upper()}": str(v) for k, v in SMALL_DATA_CHECKS.items()}

SECRET = "platform-test-secret-" + "x" * 32


async def wait_until(
    predicate: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> Any:
    """Poll an async predicate until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


@dataclass
class Platform:
    namespace: str
    bucket: str
    runtimes: dict[str, ServiceRuntime[Any]]
    apps: dict[str, FastAPI]
    settings: dict[str, ServiceSettings]
    cleanup_queues: list[str] = field(default_factory=list)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(
        self, service: str, tenant_id: str = "tenant-a", roles: tuple[str, ...] = ("admin",)
    ) -> httpx.AsyncClient:
        runtime = self.runtimes[service]
        token = runtime.token_codec.issue(
            Principal(tenant_id=tenant_id, subject=f"user:{tenant_id}", roles=roles)
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]),
            base_url=f"http://{service}",
            headers={INTERNAL_TOKEN_HEADER: token},
            timeout=60,
        )
        self._clients.append(client)
        return client

    def _track(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        """Close ``client`` with the platform."""
        self._clients.append(client)
        return client

    def tenant_uri(self, rel: str = "", tenant_id: str = "tenant-a") -> str:
        """``s3://<bucket>/tenants/<tenant>/<rel>``: where a tenant's own files go (see shared.storage.tenancy)."""
        return f"{StoragePolicy(self.bucket).home(tenant_id)}{rel}"

    def env(self, service: str) -> dict[str, str]:
        """Environment variables that configure a separate process (a worker) to join this platform."""
        s = self.settings[service]
        env = {
            "EXEML_MODE": "distributed",
            "EXEML_DATABASE_URL": s.database_url or "",
            f"EXEML_{service.upper()}_DB_SCHEMA": s.db_schema or service,
            "EXEML_BUS": s.bus or "rabbitmq",
            "EXEML_AMQP_URL": s.amqp_url or "",
            "EXEML_BUS_NAMESPACE": s.bus_namespace,
            "EXEML_STORAGE": s.storage or "s3",
            "EXEML_STORAGE_BUCKET": s.storage_bucket,
            "EXEML_INTERNAL_TOKEN_SECRET": SECRET,
        }
        if s.s3_endpoint:
            env |= {
                "EXEML_S3_ENDPOINT": s.s3_endpoint,
                "EXEML_S3_ACCESS_KEY": s.s3_access_key.get_secret_value() if s.s3_access_key else "",
                "EXEML_S3_SECRET_KEY": s.s3_secret_key.get_secret_value() if s.s3_secret_key else "",
            }
        return env


async def _delete_rabbit_objects(namespace: str, queues: list[str]) -> None:
    await delete_queues(queues, exchanges=(f"{namespace}.events", f"{namespace}.dlx"))


@pytest.fixture
async def platform_factory(s3_server: S3Server) -> AsyncIterator[Callable[..., Awaitable[Platform]]]:
    built: list[tuple[Platform, list[str]]] = []

    async def make(
        services: list[str], *, bus: str = "rabbitmq", overrides: dict[str, dict[str, Any]] | None = None
    ) -> Platform:
        url = make_url(POSTGRES_URL)
        require_tcp("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
        if bus == "rabbitmq":
            parsed = urlparse(AMQP_URL)
            require_tcp("RabbitMQ", parsed.hostname or "127.0.0.1", parsed.port or 5672)
        run = new_id()[:10]
        namespace, bucket = f"t{run}", f"platform-{run}"
        broker = InMemoryBroker() if bus == "memory" else None
        runtimes: dict[str, ServiceRuntime[Any]] = {}
        settings: dict[str, ServiceSettings] = {}
        schemas: list[str] = []
        for name in services:
            definition = load_definition(name)
            values: dict[str, Any] = {
                "mode": "distributed",
                "database_url": POSTGRES_URL,
                "db_schema": f"t_{run}_{name}",
                "bus": bus,
                "amqp_url": AMQP_URL,
                "bus_namespace": namespace,
                "storage": "s3",
                "storage_bucket": bucket,
                "s3_endpoint": s3_server.endpoint,
                "s3_access_key": s3_server.access_key,
                "s3_secret_key": s3_server.secret_key,
                "internal_token_secret": SECRET,
                "outbox_poll_seconds": 0.1,
            } | (overrides or {}).get(name, {})
            settings[name] = definition.settings_cls(**values)
            schemas.append(values["db_schema"])
            runtimes[name] = build_runtime(definition, settings[name], broker=broker)
        apps = {name: load_service_app(name, rt) for name, rt in runtimes.items()}
        for runtime in runtimes.values():
            for peer, app in apps.items():
                runtime.peers.register_app(peer, app)
        if "gateway" in apps:  # the gateway reaches the other apps in-process, as in the embedded mode
            apps["gateway"].state.clients.update(
                {
                    name: httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=60
                    )
                    for name, app in apps.items()
                    if name != "gateway"
                }
            )
        platform = Platform(namespace, bucket, runtimes, apps, settings)
        built.append((platform, schemas))
        for runtime in runtimes.values():
            await runtime.migrate()
            await runtime.start(background=True)
        return platform

    yield make

    for platform, schemas in built:
        for client in platform._clients:
            await client.aclose()
        queues = [rt.consumer.queue for rt in platform.runtimes.values()] + platform.cleanup_queues
        store = next(iter(platform.runtimes.values())).store if platform.runtimes else None
        for runtime in platform.runtimes.values():
            await runtime.stop()
        if platform.settings and next(iter(platform.settings.values())).bus == "rabbitmq":
            await _delete_rabbit_objects(platform.namespace, queues)
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        if store is not None:
            for info in await store.list(platform.bucket):
                await store.delete(info.uri)
