"""Model-assisted labeling through the API, next to the real dataset, registry and inference services and
Triton: a pre-label task over a dataset's unlabeled samples with a running service, suggestions ordered by
the model's uncertainty, accepted (as is or corrected) or rejected; only accepted ones count as labeled."""

from __future__ import annotations

from typing import Any

import pytest

from shared.testing.model_packages import (
    IMAGE_LABELS,
    deploy_version,
    image_package,
    png_bytes,
    upload_version,
)
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"


class Platform:
    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.dataset = platform.client("dataset", TENANT)
        self.labeling = platform.client("labeling", TENANT)
        self.registry = platform.client("registry", TENANT)
        self.inference = platform.client("inference", TENANT)

    async def images(self, count: int) -> tuple[str, dict[str, str]]:
        """An image classification dataset of ``count`` unlabeled PNGs; (dataset id, name → sample id)."""
        store, home = self.platform.runtimes["dataset"].store, self.platform.tenant_uri
        for i in range(count):
            await store.put(home(f"in/img/{i:02d}.png", TENANT), png_bytes(40, 32, seed=i))
        created = await self.dataset.post(
            "/v1/datasets",
            json={
                "dataset_name": "flowers",
                "dataset_type": 0,
                "input_path": home("in/img/", TENANT),
                "work_path": home("out/img/", TENANT),
            },
        )
        assert created.status_code == 201, created.text
        dataset_id = created.json()["dataset_id"]

        async def known_to_labeling() -> bool:
            stats = await self.labeling.get(f"/v1/datasets/{dataset_id}/annotations/stats")
            return stats.status_code == 200 and stats.json()["sample_stats"]["total"] == count

        await wait_until(known_to_labeling, timeout=60, what="samples known to labeling")
        samples = (await self.dataset.get(f"/v1/datasets/{dataset_id}/samples", params={"limit": 100})).json()
        return dataset_id, {s["sample_name"].rsplit("/", 1)[-1]: s["sample_id"] for s in samples["items"]}

    async def service(self, task_type_package: dict[str, bytes]) -> str:
        version = await upload_version(self.registry, "flowers", task_type_package)
        return await deploy_version(self.inference, version, "flowers")

    async def finished(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        async def done():
            task = (await self.labeling.get(f"/v1/datasets/{dataset_id}/prelabel-tasks/{task_id}")).json()
            return task if task["status"] in ("completed", "failed") else None

        return await wait_until(done, timeout=60, interval=0.2, what="pre-label task finished")

    async def stats(self, dataset_id: str) -> dict[str, int]:
        return (await self.labeling.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()[
            "sample_stats"
        ]


@pytest.fixture
async def lab(platform_factory, tmp_path) -> Platform:
    return Platform(
        await platform_factory(
            ["dataset", "labeling", "registry", "inference"],
            overrides={
                "labeling": {"prelabel_poll_seconds": 0.2},
                "inference": {
                    "reconcile_interval_seconds": 0.2,
                    "unload_grace_seconds": 0.2,
                    "triton_model_repository": str(tmp_path / "triton-models"),
                },
            },
        )
    )


async def test_prelabel_suggests_and_only_accepted_suggestions_label(lab: Platform) -> None:
    dataset_id, ids = await lab.images(5)
    labeled = await lab.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{ids['00.png']}", json={"annotations": [{"name": "cat"}]}
    )
    assert labeled.status_code == 200, labeled.text
    service_id = await lab.service(image_package(0))

    created = await lab.labeling.post(
        f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": service_id}
    )
    assert created.status_code == 201, created.text
    assert created.json()["total_sample_count"] == 4  # the unlabeled ones only
    task = await lab.finished(dataset_id, created.json()["task_id"])
    assert task["status"] == "completed" and task["processed_sample_count"] == 4, task

    suggestions = (await lab.labeling.get(f"/v1/datasets/{dataset_id}/suggestions")).json()
    assert suggestions["total"] == 4 and ids["00.png"] not in {s["sample_id"] for s in suggestions["items"]}
    uncertainties = [s["uncertainty"] for s in suggestions["items"]]
    assert uncertainties == sorted(uncertainties, reverse=True)  # "label these first"
    for item in suggestions["items"]:
        (prediction,) = item["predictions"]
        assert prediction["name"] in IMAGE_LABELS and 0 < prediction["score"] <= 1
        # the service itself answers the same label for the same bytes
        content = await lab.dataset.get(f"/v1/datasets/{dataset_id}/samples/{item['sample_id']}/content")
        answer = await lab.inference.post(
            f"/v1/infers/{service_id}", files={"images": ("x.png", content.content)}
        )
        assert answer.json()["predicted_label"] == prediction["name"]
    # Suggestions are not annotations: still 1 labeled sample.
    assert (await lab.stats(dataset_id))["labeled"] == 1

    first, second, third, _ = suggestions["items"]
    accepted = await lab.labeling.post(f"/v1/datasets/{dataset_id}/suggestions/{first['sample_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["labels"] == [first["predictions"][0]["name"]]
    corrected = await lab.labeling.post(
        f"/v1/datasets/{dataset_id}/suggestions/{second['sample_id']}/accept",
        json={"annotations": [{"name": "tulip"}]},
    )
    assert corrected.status_code == 200 and corrected.json()["labels"] == ["tulip"]
    rejected = await lab.labeling.delete(f"/v1/datasets/{dataset_id}/suggestions/{third['sample_id']}")
    assert rejected.status_code == 204
    assert (await lab.stats(dataset_id))["labeled"] == 3
    left = (await lab.labeling.get(f"/v1/datasets/{dataset_id}/suggestions", params={"order": "name"})).json()
    assert left["total"] == 1
    # Labeling a sample by hand drops its suggestion.
    last = left["items"][0]["sample_id"]
    await lab.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{last}", json={"annotations": [{"name": "dog"}]}
    )
    assert (await lab.labeling.get(f"/v1/datasets/{dataset_id}/suggestions")).json()["total"] == 0
    gone = await lab.labeling.post(f"/v1/datasets/{dataset_id}/suggestions/{last}/accept")
    assert gone.status_code == 404 and gone.json()["error_code"] == "ModelArts.4431"

    await lab.labeling.put(
        f"/v1/datasets/{dataset_id}/annotations/{third['sample_id']}",
        json={"annotations": [{"name": "bird"}]},
    )
    # Every sample labeled: nothing to pre-label. A stopped service: 409 naming the rule.
    nothing = await lab.labeling.post(
        f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": service_id}
    )
    assert nothing.status_code == 400 and nothing.json()["details"][0]["rule"] == "no_unlabeled_samples"
    assert (
        await lab.inference.put(f"/v1/services/{service_id}", json={"status": "stopped"})
    ).status_code == 200

    async def stopped_service() -> bool:
        return (await lab.inference.get(f"/v1/services/{service_id}")).json()["status"] == "stopped"

    await wait_until(stopped_service, timeout=30, what="service stopped")
    stopped = await lab.labeling.post(
        f"/v1/datasets/{dataset_id}/prelabel-tasks",
        json={"service_id": service_id, "sample_ids": [ids["01.png"]]},
    )
    assert stopped.status_code == 409 and stopped.json()["details"][0]["rule"] == "service_not_running"


async def test_prelabel_refuses_another_type_and_another_tenant(lab: Platform) -> None:
    dataset_id, _ = await lab.images(1)
    other = lab.platform.client("labeling", "tenant-b")
    foreign = await other.post(f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": "a" * 32})
    assert foreign.status_code == 404
    missing = await lab.labeling.post(
        f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": "a" * 32}
    )
    assert missing.status_code == 404
    bad = await lab.labeling.post(f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": "../x"})
    assert bad.status_code == 400
    viewer = lab.platform.client("labeling", TENANT, roles=("viewer",))
    assert (
        await viewer.post(f"/v1/datasets/{dataset_id}/prelabel-tasks", json={"service_id": "a" * 32})
    ).status_code == 403
