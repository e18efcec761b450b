"""The embedded mode (what `make run` starts): dataset and labeling on SQLite, the in-memory bus, local storage."""

from __future__ import annotations

import httpx
from dataset.app import create_app as dataset_app
from dataset.config import Settings as DatasetSettings
from dataset.definition import SERVICE as DATASET
from labeling.app import create_app as labeling_app
from labeling.config import Settings as LabelingSettings
from labeling.definition import SERVICE as LABELING

from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.manifest import parse_lines
from shared.messaging import InMemoryBroker
from shared.service import build_runtime
from shared.testing.platform import SMALL_DATA_CHECKS, wait_until


async def test_import_label_publish_check_embedded(tmp_path, files) -> None:
    broker = InMemoryBroker()
    runtimes = {
        "dataset": build_runtime(
            DATASET,
            DatasetSettings(data_dir=tmp_path, outbox_poll_seconds=0.05, **SMALL_DATA_CHECKS),
            broker=broker,
        ),
        "labeling": build_runtime(
            LABELING, LabelingSettings(data_dir=tmp_path, outbox_poll_seconds=0.05), broker=broker
        ),
    }
    apps = {
        "dataset": dataset_app(runtime=runtimes["dataset"]),
        "labeling": labeling_app(runtime=runtimes["labeling"]),
    }
    for runtime in runtimes.values():
        for name, app in apps.items():
            runtime.peers.register_app(name, app)
        await runtime.migrate()
        await runtime.start(background=True)
    ds_rt = runtimes["dataset"]
    assert ds_rt.settings.database_url.startswith("sqlite") and ds_rt.settings.storage == "local"
    token = ds_rt.token_codec.issue(Principal(tenant_id="t1", subject="user:t1", roles=("admin",)))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=apps["dataset"]),
        base_url="http://dataset",
        headers={INTERNAL_TOKEN_HEADER: token},
    )
    try:
        folder = f"{ds_rt.storage_policy.home('t1')}in/"  # the tenant's own area of the bucket
        for label in ("cat", "dog"):
            for i in range(5):
                await ds_rt.store.put(f"{folder}{label}{i}.jpg", files.image(fmt="JPEG"))
                await ds_rt.store.put(f"{folder}{label}{i}.txt", f"{label}\n".encode())
        created = (
            await client.post(
                "/v1/datasets", json={"dataset_name": "emb", "dataset_type": 0, "input_path": folder}
            )
        ).json()
        ds_id = created["dataset_id"]

        async def imported():
            task = (await client.get(f"/v1/datasets/{ds_id}/import-tasks/{created['import_task_id']}")).json()
            return task["status"] == "COMPLETED" and task

        assert (await wait_until(imported, what="import"))["imported_sample_count"] == 10
        lab = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps["labeling"]),
            base_url="http://labeling",
            headers={INTERNAL_TOKEN_HEADER: token},
        )

        async def labeled():
            stats = await lab.get(f"/v1/datasets/{ds_id}/annotations/stats")
            return stats.status_code == 200 and stats.json()["sample_stats"]["manual_annotation"] == 10

        await wait_until(labeled, what="labeling got the imported labels")
        await lab.aclose()
        version_id = (await client.post(f"/v1/datasets/{ds_id}/versions", json={})).json()["version_id"]

        async def published():
            v = (await client.get(f"/v1/datasets/{ds_id}/versions/{version_id}")).json()
            return v["status"] == "NORMAL" and v

        version = await wait_until(published, what="publish")
        lines = list(parse_lines((await ds_rt.store.get(version["manifest_path"])).decode()))
        assert sorted(line.usage for line in lines) == ["EVAL"] * 2 + ["TRAIN"] * 8
        report = (await client.post(f"/v1/datasets/{ds_id}/versions/{version_id}/check")).json()
        assert report["passed"]
    finally:
        await client.aclose()
        for runtime in runtimes.values():
            await runtime.stop()
