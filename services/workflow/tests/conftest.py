"""Workflow fixtures: dataset, labeling and workflow on PostgreSQL, RabbitMQ and S3."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from shared.testing.platform import SMALL_DATA_CHECKS, Platform, wait_until


@dataclass
class Projects:
    platform: Platform
    client: httpx.AsyncClient

    async def upload(self, prefix: str, files: dict[str, bytes], tenant_id: str = "tenant-a") -> str:
        store, folder = (
            self.platform.runtimes["dataset"].store,
            self.platform.tenant_uri(f"{prefix}/", tenant_id),
        )
        for path, data in files.items():
            await store.put(f"{folder}{path}", data)
        return folder

    async def create(self, **body) -> dict:
        response = await self.client.post("/v1/projects", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def get(self, project_id: str) -> dict:
        response = await self.client.get(f"/v1/projects/{project_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_phase(self, project_id: str, phase: str, status: str, timeout: float = 60) -> dict:
        async def reached():
            project = await self.get(project_id)
            phases = {p["name"]: p for p in project["execution"]["phases"]}
            return project if phases[phase]["status"] == status else None

        return await wait_until(reached, timeout=timeout, what=f"phase {phase} {status}")

    async def wait_imported(self, dataset_id: str, count: int) -> None:
        client = self.platform.client("dataset")

        async def imported():
            body = (await client.get(f"/v1/datasets/{dataset_id}")).json()
            return body.get("sample_count", 0) >= count and body.get("status") == 1

        await wait_until(imported, timeout=60, what=f"{count} samples imported")


@pytest.fixture
async def projects(platform_factory) -> Projects:
    # Rounds on a few dozen images: the check's image thresholds lowered (the guide's are tested in dataset).
    platform = await platform_factory(
        ["dataset", "labeling", "workflow"], overrides={"dataset": SMALL_DATA_CHECKS}
    )
    return Projects(platform, platform.client("workflow"))
