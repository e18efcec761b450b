"""Import and publish tasks are state: failures are recorded, abandoned tasks are resumed by the sweeper."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dataset.models import ImportTask

from shared.db.base import utcnow
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra

FAST_SWEEP = {"dataset": {"task_sweep_seconds": 0.2, "task_stale_seconds": 2}}


@pytest.fixture
async def fast_harness(platform_factory):
    from services.dataset.tests.conftest import DatasetHarness  # the shared harness of these tests

    return DatasetHarness(await platform_factory(["dataset"], overrides=FAST_SWEEP))


async def _add_task(h, dataset_id: str, status: str, lease_left: float | None = None) -> str:
    """A task row; a running one is held by another runner whose lease ends in ``lease_left`` seconds
    (negative: it expired that long ago, the runner's process died)."""
    lease = (
        {}
        if lease_left is None
        else {"lease_holder": "another-runner", "lease_expires_at": utcnow() + timedelta(seconds=lease_left)}
    )
    async with h.runtime.db.session() as session:
        task = ImportTask(
            tenant_id=h.tenant_id,
            dataset_id=dataset_id,
            import_path=h.uri("in/abandoned/"),
            import_type="dir",
            kind="import",
            status=status,
            errors=[],
            **lease,
        )
        session.add(task)
        await session.flush()
        return task.id


async def test_abandoned_tasks_are_resumed(fast_harness, files) -> None:
    h = fast_harness
    await h.put_tree("in/abandoned", {"a.jpg": files.image(fmt="JPEG"), "a.txt": b"cat\n"})
    ds = await h.create("abandoned", 0, None)
    # A queued task whose starter died after the commit, and a running one whose process died.
    queued = await _add_task(h, ds["dataset_id"], "QUEUED")
    task = await h.wait_task(ds["dataset_id"], queued)
    assert task["status"] == "COMPLETED" and task["imported_sample_count"] == 1
    stale = await _add_task(h, ds["dataset_id"], "RUNNING", lease_left=-60)
    task = await h.wait_task(ds["dataset_id"], stale)
    assert task["status"] == "COMPLETED" and task["skipped_sample_count"] == 1  # nothing imported twice
    assert (await h.samples(ds["dataset_id"]))["total"] == 1


async def test_running_task_with_heartbeat_is_left_alone(fast_harness) -> None:
    h = fast_harness
    ds = await h.create("busy", 0, None)
    busy = await _add_task(h, ds["dataset_id"], "RUNNING", lease_left=60)
    await asyncio.sleep(1.0)  # five sweeps pass; the row's lease is held by its (live) runner: not claimed
    task = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}/import-tasks/{busy}")).json()
    assert task["status"] == "RUNNING" and task["started_at"] is None


async def test_failed_import_is_recorded(platform_factory) -> None:
    from services.dataset.tests.conftest import DatasetHarness

    # The operator granted the tenant a bucket of its own, which does not exist (yet).
    grants = {"dataset": {"storage_grants": {"tenant-a": ["s3://no-such-bucket-here/"]}}}
    h = DatasetHarness(await platform_factory(["dataset"], overrides=grants))
    ds = await h.create("nobucket", 0, None)
    response = await h.client.post(
        f"/v1/datasets/{ds['dataset_id']}/import-tasks", json={"import_path": "s3://no-such-bucket-here/x/"}
    )
    task = await h.wait_task(ds["dataset_id"], response.json()["task_id"])
    assert task["status"] == "FAILED" and "no-such-bucket-here" in task["error_msg"]
    event = (await h.outbox_events("dataset.import.completed.v1"))[-1]["data"]
    assert event["status"] == "failed" and event["error_msg"] == task["error_msg"]
    # The dataset is usable again: another import may start.
    again = await h.client.post(f"/v1/datasets/{ds['dataset_id']}/sync")
    assert again.status_code == 201
    assert (await h.wait_task(ds["dataset_id"], again.json()["task_id"]))["status"] == "COMPLETED"


async def test_publish_fails_visibly_without_labeling(platform_factory, files) -> None:
    from services.dataset.tests.conftest import DatasetHarness

    h = DatasetHarness(await platform_factory(["dataset"]))
    h.runtime.peers._clients.pop("labeling")  # no labeling service reachable
    ds, _ = await h.import_folder("lonely", 0, {"a.jpg": files.image(fmt="JPEG"), "a.txt": b"cat\n"})
    response = await h.client.post(f"/v1/datasets/{ds['dataset_id']}/versions", json={})
    version_id = response.json()["version_id"]

    async def failed():
        v = (await h.client.get(f"/v1/datasets/{ds['dataset_id']}/versions/{version_id}")).json()
        return v if v["status"] == "FAILED" else None

    version = await wait_until(failed, what="publish failure")
    assert "labeling" in version["error_msg"]
    assert (await h.client.get(f"/v1/datasets/{ds['dataset_id']}")).json()["status"] == 1
    assert await h.outbox_events("dataset.version.published.v1") == []
    # ... and told, so that a project's Publish phase waiting on it fails with the reason.
    [told] = await h.outbox_events("dataset.version.failed.v1")
    assert told["data"]["version_id"] == version_id and told["data"]["error_msg"] == version["error_msg"]
