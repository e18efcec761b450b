"""The whole platform behind the gateway, in the distributed setting (PostgreSQL, RabbitMQ, S3, Triton) or
in the embedded mode, and a small client that speaks to it only through the gateway."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gateway.keys import ensure_bootstrap_key

from shared.storage.tenancy import StoragePolicy
from shared.testing import datagen
from shared.testing.platform import (
    FAST_EMBEDDED_ENV,
    FAST_ENGINE_ENV,
    SMALL_DATA_CHECK_ENV,
    SMALL_DATA_CHECKS,
    TRAIN_BUDGET_SECONDS,
    wait_until,
)

ADMIN_KEY = "exeml_e2e-admin-key-000000000000000000000000"
ALL = ["gateway", "dataset", "labeling", "trainer", "registry", "inference", "workflow"]
ENGINE_ENV = FAST_ENGINE_ENV

DATA = {
    # 15 per class: 9 validation images (3 a class), on which the quality gate can be passed (6 of 9 right)
    "image_classification": lambda: datagen.image_classification_files(per_class=15),
    # 30 scenes: 6 validation images; on 16 (4 validation images) a detector trained at load 4 missed the gate
    "object_detection": lambda: datagen.detection_files(images=30),
    # 20 per class: 8 validation clips, so that the quality gate's binomial test can be passed (7 of 8 right)
    "sound_classification": lambda: datagen.sound_files(per_class=20),
    "text_classification": lambda: datagen.text_files(per_class=22),
    "predictive_analytics": lambda: datagen.table_files(rows=150),
}


class E2E:
    def __init__(
        self,
        client: httpx.AsyncClient,
        store: Any,
        bucket: str,
        platform: Any = None,
        gateway_app: Any = None,
        runtimes: dict[str, Any] | None = None,
    ) -> None:
        self.client, self.store, self.bucket = client, store, bucket
        self.platform = platform  # the distributed setting's services (None in the embedded mode)
        self.gateway_app, self.runtimes = gateway_app, runtimes or {}

    def tenant_uri(self, rel: str = "", tenant_id: str = "default") -> str:
        """Where a tenant keeps its own files (the admin key's tenant is ``default``)."""
        return f"{StoragePolicy(self.bucket).home(tenant_id)}{rel}"

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content else None

    async def create_project(self, project_type: str, files: dict[str, bytes] | None = None) -> dict:
        prefix = f"{project_type}-{int(time.time() * 1000)}"
        for path, data in (files if files is not None else DATA[project_type]()).items():
            await self.store.put(self.tenant_uri(f"{prefix}/input/{path}"), data)
        body: dict[str, Any] = {
            "dataset_name": f"ds-{prefix}"[:100].replace("_", "-"),
            "dataset_type_name": "table" if project_type == "predictive_analytics" else project_type,
            "input_path": self.tenant_uri(f"{prefix}/input/"),
            "work_path": self.tenant_uri(f"{prefix}/output/"),
        }
        if project_type == "predictive_analytics":
            body["label_column"] = "label"
        dataset = await self.ok("POST", "/v1/datasets", json=body)
        await self.wait_imported(dataset["dataset_id"])
        project = {
            "name": f"p{prefix.replace('_', '')}"[:64],
            "project_type": project_type,
            "dataset_id": dataset["dataset_id"],
            "training_params": {"max_training_duration": 6},
        }
        if project_type == "predictive_analytics":
            project |= {"label_column": "label", "label_type": "discrete"}
        return await self.ok("POST", "/v1/projects", json=project)

    async def wait_imported(self, dataset_id: str) -> None:
        async def done():
            tasks = await self.ok("GET", f"/v1/datasets/{dataset_id}/import-tasks")
            items = tasks.get("items", tasks if isinstance(tasks, list) else [])
            return items and all(t["status"] in ("COMPLETED", "FAILED") for t in items)

        await wait_until(done, timeout=120, what="import")

    async def wait_labeled(self, project: dict) -> None:
        async def labeled():
            stats = (await self.ok("GET", f"/v1/datasets/{project['dataset_id']}/annotations/stats"))[
                "sample_stats"
            ]
            return stats["labeled"] > 0 and stats["unlabeled"] == 0

        await wait_until(labeled, timeout=60, what="imported labels")

    async def relabel_one(self, project: dict) -> None:
        """A user's edit through the labeling API: one sample gets the label it already has, re-saved."""
        dataset_id = project["dataset_id"]
        samples = await self.ok("GET", f"/v1/datasets/{dataset_id}/samples", params={"limit": 1})
        sample_id = samples["items"][0]["sample_id"]
        current = await self.ok("GET", f"/v1/datasets/{dataset_id}/annotations/{sample_id}")
        keep = ("name", "bndbox", "pose", "truncated", "occluded", "difficult")
        body = [{k: a[k] for k in keep if a.get(k) is not None} for a in current["annotations"]]
        await self.ok("PUT", f"/v1/datasets/{dataset_id}/annotations/{sample_id}", json={"annotations": body})

    async def project(self, project_id: str) -> dict:
        return await self.ok("GET", f"/v1/projects/{project_id}")

    async def wait_phase(self, project_id: str, phase: str, status: str, timeout: float = 300) -> dict:
        async def reached():
            project = await self.project(project_id)
            phases = {p["name"]: p for p in project["execution"]["phases"]}
            failed = [p for p in phases.values() if p["status"] == "failed"]
            assert not failed, f"phase {failed[0]['name']} failed: {failed[0]['error_msg']}"
            return project if phases[phase]["status"] == status else None

        return await wait_until(reached, timeout=timeout, interval=0.5, what=f"{phase} {status}")

    async def wait_service(self, service_id: str, status: str) -> None:
        async def reached():
            return (await self.ok("GET", f"/v1/services/{service_id}"))["status"] == status

        await wait_until(reached, timeout=120, what=f"service {status}")


@pytest.fixture
async def e2e_factory(platform_factory, tmp_path, monkeypatch) -> AsyncIterator[Any]:
    for key, value in ENGINE_ENV.items():
        monkeypatch.setenv(key, value)
    opened: list[Any] = []

    async def make(mode: str, budget: float = TRAIN_BUDGET_SECONDS) -> E2E:
        if mode == "embedded":
            return await _embedded(tmp_path, monkeypatch, opened, budget)
        platform = await platform_factory(
            ALL,
            overrides={
                "gateway": {"bootstrap_api_key": ADMIN_KEY},
                "dataset": SMALL_DATA_CHECKS,  # the DATA above: a few dozen samples a project
                "trainer": {
                    "in_process_worker": True,
                    "budget_cap_seconds": budget,
                    "worker_poll_seconds": 0.2,
                    "heartbeat_seconds": 1.0,
                    "packaging_margin_seconds": 5,
                },
                "inference": {
                    "reconcile_interval_seconds": 0.2,
                    "unload_grace_seconds": 0.2,
                    "triton_model_repository": str(tmp_path / "triton-models"),
                },
            },
        )
        runtime = platform.runtimes["gateway"]
        await ensure_bootstrap_key(runtime.db, runtime.settings)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=platform.apps["gateway"]),
            base_url="http://gateway",
            headers={"X-Auth-Token": ADMIN_KEY},
            timeout=120,
        )
        opened.append(client)
        return E2E(
            client,
            platform.runtimes["dataset"].store,
            platform.bucket,
            platform,
            gateway_app=platform.apps["gateway"],
            runtimes=platform.runtimes,
        )

    yield make
    for item in reversed(opened):
        await item.aclose()


async def _embedded(tmp_path, monkeypatch, opened: list[Any], budget: float = TRAIN_BUDGET_SECONDS) -> E2E:
    from gateway.config import Settings
    from gateway.embedded import build_embedded_app

    env = {
        "EXEML_DATA_DIR": str(tmp_path / "embedded"),
        "EXEML_BOOTSTRAP_API_KEY": ADMIN_KEY,
        **FAST_EMBEDDED_ENV,
        **SMALL_DATA_CHECK_ENV,
        "EXEML_TRAINER_BUDGET_CAP_SECONDS": str(budget),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = build_embedded_app(Settings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()

    class _Lifespan:
        async def aclose(self) -> None:
            await lifespan.__aexit__(None, None, None)

    opened.append(_Lifespan())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://exeml",
        headers={"X-Auth-Token": ADMIN_KEY},
        timeout=120,
    )
    opened.append(client)
    store = app.state.runtime.store
    return E2E(client, store, store.default_bucket, gateway_app=app, runtimes=app.state.runtimes)
