"""Registry service on PostgreSQL, RabbitMQ and S3: registration from events and uploads, versions,
listing, export, deletion rules, tenant isolation."""

from __future__ import annotations

import asyncio
import io
import tarfile

import pytest

from shared.events.inference import ServedVersion, ServiceRunning, ServiceStopped
from shared.events.training import JobSucceeded
from shared.testing.bus import publish_event
from shared.testing.model_packages import put_package, service_uses, table_package, tar_gz
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"


async def _upload(client, name: str, files: dict[str, bytes], filename: str = "pkg.tar.gz"):
    return await client.post(
        "/v1/models", data={"model_name": name}, files={"file": (filename, tar_gz(files), "application/gzip")}
    )


async def test_job_succeeded_twice_registers_one_version(platform_factory) -> None:
    platform = await platform_factory(["registry"])
    runtime = platform.runtimes["registry"]
    prefix = runtime.store.uri(platform.bucket, "trainer/jobs/job-1/package")
    package_uri = await put_package(runtime.store, prefix, table_package(0))
    event = JobSucceeded(
        job_id="job-1",
        project_id="proj-1",
        dataset_id="ds-1",
        dataset_version_id="dv-1",
        task_type="predictive_analytics",
        package_uri=package_uri,
        engine="lightgbm",
        labels=["no", "yes"],
        metrics={"accuracy": 0.91},
        project_name="flowers",
    )
    first = await publish_event(runtime.transport, event, tenant_id=TENANT)
    await publish_event(runtime.transport, event, tenant_id=TENANT, envelope=first)  # a redelivery
    await publish_event(runtime.transport, event, tenant_id=TENANT)  # the same job, a new envelope
    client = platform.client("registry", TENANT)

    async def registered():
        body = (await client.get("/v1/models")).json()
        return body if body["total"] == 1 else None

    body = await wait_until(registered, timeout=45, what="the model to be registered")
    await asyncio.sleep(1.0)  # let the duplicates be processed too
    model = (await client.get(f"/v1/models/{body['items'][0]['model_id']}")).json()
    assert [v["model_version"] for v in model["versions"]] == ["0.0.1"]
    assert model["model_name"].startswith("flowers-")
    version = model["versions"][0]
    assert version["model_status"] == "published" and version["source_type"] == "auto"
    assert version["training_job_id"] == "job-1" and version["dataset_version_id"] == "dv-1"
    assert version["metrics"] == {"accuracy": 0.91} and version["labels"] == ["no", "yes"]
    assert version["engine"] == "lightgbm" and version["model_size"] > 0
    assert version["package_uri"] != package_uri  # the registry keeps its own copy
    # A second training round of the same project is the next version of the same AI application.
    event2 = event.model_copy(update={"job_id": "job-2"})
    await publish_event(runtime.transport, event2, tenant_id=TENANT)

    async def two_versions():
        m = (await client.get(f"/v1/models/{model['model_id']}")).json()
        return m if m["version_count"] == 2 else None

    m = await wait_until(two_versions, timeout=45, what="version 0.0.2")
    assert m["latest_version"]["model_version"] == "0.0.2"
    # A job whose package is missing is recorded as a failed version, with the reason.
    missing = str(runtime.store.uri(platform.bucket, "trainer/jobs/job-3/nothing-here"))
    await publish_event(
        runtime.transport,
        event.model_copy(update={"job_id": "job-3", "package_uri": missing}),
        tenant_id=TENANT,
    )

    async def failed_version():
        listed = (await client.get("/v1/models", params={"model_status": "failed"})).json()
        return listed if listed["total"] == 1 else None

    listed = await wait_until(failed_version, timeout=45, what="a failed version")
    latest = listed["items"][0]["latest_version"]
    assert latest["model_version"] == "0.0.3" and latest["model_status"] == "failed"
    assert "manifest.json" in latest["error_msg"] and latest["package_uri"] is None


async def test_twenty_concurrent_registrations_get_versions_without_gaps(platform_factory) -> None:
    platform = await platform_factory(["registry"])
    client = platform.client("registry", TENANT)
    files = table_package(0)
    responses = await asyncio.gather(*[_upload(client, "concurrent", files) for _ in range(20)])
    assert [r.status_code for r in responses] == [201] * 20, [
        r.text for r in responses if r.status_code != 201
    ]
    versions = sorted(
        (r.json()["model_version"] for r in responses), key=lambda v: tuple(map(int, v.split(".")))
    )
    assert versions == [f"0.0.{i}" for i in range(1, 21)]
    assert len({r.json()["model_id"] for r in responses}) == 1
    listed = (await client.get("/v1/models", params={"model_name": "concurrent"})).json()
    assert listed["total"] == 1 and listed["items"][0]["version_count"] == 20
    assert listed["items"][0]["latest_version"]["model_version"] == "0.0.20"


async def test_list_filter_page_export_delete_and_isolation(platform_factory) -> None:
    platform = await platform_factory(["registry"])
    client = platform.client("registry", TENANT)
    files = table_package(1)
    for name in ("alpha-one", "alpha-two", "beta"):
        assert (await _upload(client, name, files)).status_code == 201
    second = (await _upload(client, "beta", files)).json()
    assert second["model_version"] == "0.0.2" and second["source_type"] == "custom"

    assert (await client.get("/v1/models")).json()["total"] == 3
    page = (await client.get("/v1/models", params={"offset": 1, "limit": 1})).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    alpha = (await client.get("/v1/models", params={"model_name": "alpha"})).json()
    assert sorted(i["model_name"] for i in alpha["items"]) == ["alpha-one", "alpha-two"]
    assert (await client.get("/v1/models", params={"task_type": "image_classification"})).json()["total"] == 0
    assert (await client.get("/v1/models", params={"model_status": "published"})).json()["total"] == 3

    beta_id = second["model_id"]
    export = await client.get(f"/v1/models/{beta_id}/versions/0.0.2/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(export.content)) as archive:
        exported = {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}
    assert exported == files

    other = platform.client("registry", "tenant-b")
    assert (await other.get(f"/v1/models/{beta_id}")).status_code == 404
    assert (await other.get(f"/v1/models/{beta_id}/versions/0.0.1/export")).status_code == 404
    assert (await other.delete(f"/v1/models/{beta_id}")).status_code == 404
    assert (await other.get("/v1/models")).json()["total"] == 0

    deleted = await client.delete(f"/v1/models/{beta_id}/versions/0.0.1")
    assert deleted.status_code == 200 and deleted.json() == {"deleted_versions": ["0.0.1"]}
    assert (await client.get(f"/v1/models/{beta_id}/versions/0.0.1")).status_code == 404
    # Numbers are never reused: the next version after deleting 0.0.1 is still 0.0.3.
    assert (await _upload(client, "beta", files)).json()["model_version"] == "0.0.3"
    assert (await client.delete(f"/v1/models/{beta_id}")).json() == {"deleted_versions": ["0.0.3", "0.0.2"]}
    assert (await client.get(f"/v1/models/{beta_id}")).status_code == 404


async def test_bad_uploads_are_refused_with_the_rule(platform_factory) -> None:
    platform = await platform_factory(["registry"])
    client = platform.client("registry", TENANT)
    files = table_package(0)

    no_manifest = await _upload(client, "bad", {"model.lgb.txt": files["model.lgb.txt"]})
    assert no_manifest.status_code == 400
    assert no_manifest.json()["details"][0]["rule"] == "package_manifest_missing"
    missing_artifact = await _upload(client, "bad", {"manifest.json": files["manifest.json"]})
    assert missing_artifact.json()["details"][0]["rule"] == "package_artifact_missing"
    bad_json = await _upload(client, "bad", {"manifest.json": b"{", "model.lgb.txt": b"x"})
    assert bad_json.json()["details"][0]["rule"] == "package_manifest_invalid"
    not_archive = await client.post(
        "/v1/models",
        data={"model_name": "bad"},
        files={"file": ("pkg.zip", b"not an archive", "application/zip")},
    )
    assert (
        not_archive.status_code == 400
        and not_archive.json()["details"][0]["rule"] == "package_archive_invalid"
    )
    for member in ("../evil.txt", "a/../../evil.txt", "%2e%2e/evil.txt", "%252e%252e/x.txt", "..\\evil.txt"):
        traversal = await _upload(client, "bad", {member: b"x", **files})
        assert traversal.status_code == 403, (member, traversal.text)
        assert traversal.json()["details"][0]["rule"] == "storage_path_traversal"
    bad_name = await _upload(client, "bad name!", files)
    assert bad_name.status_code == 400
    # Nothing was registered by the refused uploads; a top folder in the archive is fine.
    assert (await client.get("/v1/models")).json()["total"] == 0
    ok = await client.post(
        "/v1/models",
        data={"model_name": "good"},
        files={"file": ("pkg.tar.gz", tar_gz(files, top="pkg"), "application/gzip")},
    )
    assert ok.status_code == 201 and ok.json()["model_version"] == "0.0.1"


async def test_a_version_used_by_a_running_service_cannot_be_deleted(platform_factory) -> None:
    platform = await platform_factory(["registry"])
    runtime = platform.runtimes["registry"]
    client = platform.client("registry", TENANT)
    version = (await _upload(client, "served", table_package(0))).json()
    model_id = version["model_id"]
    used = [ServedVersion(model_id=model_id, model_version="0.0.1", weight=100)]
    await publish_event(
        runtime.transport, ServiceRunning(service_id="svc-1", service_name="s", models=used), tenant_id=TENANT
    )

    async def in_use():
        return await service_uses(runtime, "svc-1") is True

    await wait_until(in_use, timeout=45, what="the registry to learn that svc-1 uses 0.0.1")
    assert (await client.delete(f"/v1/models/{model_id}/versions/0.0.1")).status_code == 409
    conflict = await client.delete(f"/v1/models/{model_id}")
    assert conflict.status_code == 409 and "svc-1" in conflict.json()["error_msg"]
    await publish_event(
        runtime.transport, ServiceStopped(service_id="svc-1", service_name="s", models=used), tenant_id=TENANT
    )

    async def released():
        return await service_uses(runtime, "svc-1") is False

    await wait_until(released, timeout=45, what="the registry to learn that svc-1 stopped")
    assert (await client.delete(f"/v1/models/{model_id}")).status_code == 200


async def test_ids_versions_and_pages_are_checked_before_the_database(platform_factory) -> None:
    """Control characters in ids, versions that are not Digit.Digit.Digit and offsets beyond BIGINT are a 400."""
    platform = await platform_factory(["registry"], bus="memory")
    client = platform.client("registry", TENANT)

    def fields(response) -> list[str]:
        return [d.get("field") for d in response.json()["details"]]

    for method, path, field in (
        ("GET", "/v1/models/m%00x", "model_id"),
        ("DELETE", "/v1/models/m%0Dx", "model_id"),
        ("GET", "/v1/models/m1/versions/0.0.1%00", "version"),
        ("GET", "/v1/models/m1/versions/latest/export", "version"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 400 and fields(response) == [field], (path, response.text)
    assert (await client.get("/v1/models/m1/versions/0.0.1")).status_code == 404
    for query, field in (
        ("offset=20225217254065361125376", "offset"),
        ("model_name=a%00", "model_name"),
        ("task_type=speech", "task_type"),
        ("model_status=ready", "model_status"),
    ):
        response = await client.get(f"/v1/models?{query}")
        assert response.status_code == 400 and fields(response) == [field], (query, response.text)
