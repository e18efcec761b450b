"""Tenant isolation and roles through the gateway, over every resource a project creates."""

from __future__ import annotations

import functools
import io
import json
import re
import tarfile

import pytest
import sqlalchemy as sa

from shared.testing import datagen, model_packages
from shared.testing.platform import wait_until


async def test_another_tenant_sees_and_touches_nothing_and_viewers_change_nothing(e2e_factory) -> None:
    e2e = await e2e_factory("distributed")
    project = await e2e.create_project("image_classification")
    pid, dataset_id = project["id"], project["dataset_id"]
    await e2e.wait_labeled(project)
    await e2e.ok("POST", f"/v1/projects/{pid}/workflow/next")
    done = await e2e.wait_phase(pid, "deploy_service", "awaiting_input")
    phases = {p["name"]: p for p in done["execution"]["phases"]}
    await e2e.ok("POST", f"/v1/projects/{pid}/workflow/deploy", json={})
    deployed = await e2e.wait_phase(pid, "deploy_service", "executed", timeout=180)
    service_id, model_id = deployed["service_id"], phases["register_model"]["outputs"]["model_id"]
    job_id, version_id = phases["train"]["instance"]["id"], phases["publish_dataset"]["instance"]["id"]
    sample_id = (await e2e.ok("GET", f"/v1/datasets/{dataset_id}/samples", params={"limit": 1}))["items"][0][
        "sample_id"
    ]
    image = next(v for k, v in datagen.image_classification_files(per_class=1).items() if k.endswith(".png"))

    other_key = (
        await e2e.ok(
            "POST", "/v1/api-keys", json={"name": "b-admin", "roles": ["admin"], "tenant_id": "tenant-b"}
        )
    )["key"]
    viewer_key = (await e2e.ok("POST", "/v1/api-keys", json={"name": "a-viewer", "roles": ["viewer"]}))["key"]
    other = {"X-Auth-Token": other_key}
    reads = [
        f"/v1/projects/{pid}",
        f"/v1/projects/{pid}/executions",
        f"/v1/datasets/{dataset_id}",
        f"/v1/datasets/{dataset_id}/samples/{sample_id}",
        f"/v1/datasets/{dataset_id}/versions/{version_id}",
        f"/v1/datasets/{dataset_id}/annotations/{sample_id}",
        f"/v1/training-jobs/{job_id}",
        f"/v1/models/{model_id}",
        f"/v1/models/{model_id}/versions/0.0.1/export",
        f"/v1/services/{service_id}",
    ]
    for path in reads:
        response = await e2e.client.get(path, headers=other)
        assert response.status_code == 404, (path, response.status_code, response.text[:300])
    writes = [
        ("DELETE", f"/v1/projects/{pid}", None),
        ("POST", f"/v1/projects/{pid}/workflow/stop", None),
        ("DELETE", f"/v1/datasets/{dataset_id}", None),
        ("POST", f"/v1/datasets/{dataset_id}/samples/delete", {"samples": [sample_id]}),
        ("PUT", f"/v1/datasets/{dataset_id}/annotations/{sample_id}", {"annotations": [{"name": "red"}]}),
        ("POST", f"/v1/training-jobs/{job_id}/stop", None),
        ("DELETE", f"/v1/models/{model_id}", None),
        ("PUT", f"/v1/services/{service_id}", {"status": "stopped"}),
        ("DELETE", f"/v1/services/{service_id}", None),
    ]
    for method, path, body in writes:
        response = await e2e.client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.status_code, response.text[:300])
    predicted = await e2e.client.post(
        f"/v1/infers/{service_id}", files={"images": ("x.png", image, "image/png")}, headers=other
    )
    assert predicted.status_code == 404
    for listing in ("/v1/projects", "/v1/datasets", "/v1/training-jobs", "/v1/models", "/v1/services"):
        body = (await e2e.client.get(listing, headers=other)).json()
        assert body.get("total", len(body.get("items", []))) == 0, (listing, body)

    viewer = {"X-Auth-Token": viewer_key}
    for method, path, body in writes:
        response = await e2e.client.request(method, path, json=body, headers=viewer)
        assert response.status_code == 403, (method, path, response.status_code)
    assert (await e2e.client.get(f"/v1/projects/{pid}", headers=viewer)).status_code == 200
    ok = await e2e.client.post(
        f"/v1/infers/{service_id}", files={"images": ("x.png", image, "image/png")}, headers=viewer
    )
    assert ok.status_code == 200, ok.text
    # Nothing was touched by those attempts: the owner still sees a running service.
    assert (await e2e.ok("GET", f"/v1/services/{service_id}"))["status"] == "running"
    for token in ("", "exeml_nope", other_key + "x"):
        assert (
            await e2e.client.get(f"/v1/projects/{pid}", headers={"X-Auth-Token": token})
        ).status_code == 401


# ---------------------------------------------------------------------------------------------------------------
# Object storage tenancy and JSON limits: one platform per mode, every user path field and every JSON endpoint.

A, B = "default", "tenant-b"  # the admin key's tenant, and a second tenant created by the operator


def _targets(bucket: str, a_dataset: str) -> list[tuple[str, str]]:
    """What tenant B tries to name, and the rule each breaks."""
    s3 = f"s3://{bucket}"
    return [
        (f"{s3}/", "storage_outside_tenant_area"),
        (f"{s3}/datasets/{A}/{a_dataset}/input/", "storage_other_tenant"),
        (f"{s3}/tenants/{A}/sec/in/", "storage_other_tenant"),
        (f"{s3}/models/{A}/", "storage_platform_area"),
        (f"{s3}/models/{B}/", "storage_platform_area"),
        (f"{s3}/triton/", "storage_platform_area"),
        (f"{s3}/training/{A}/", "storage_platform_area"),
        (f"{s3}//models/{A}/", "storage_platform_area"),
        (f"obs://{bucket}/models/{A}/", "storage_platform_area"),
        (f"{s3}/tenants/{B}/../{A}/sec/in/", "storage_path_traversal"),
        (f"{s3}/tenants/{B}/%2e%2e/{A}/sec/in/", "storage_path_traversal"),
        (f"{s3}/tenants/{B}/%252e%252e/%252e%252e/models/{A}/", "storage_path_traversal"),
        (f"{s3}/tenants/{B}/..%5c..%5cmodels%5c{A}/", "storage_path_traversal"),
    ]


UPLOAD_NAMES = [
    f"../../../tenants/{A}/sec/in/x.png",
    f"%2e%2e/%2e%2e/%2e%2e/models/{A}/x.png",
    "..%2f..%2fx.png",
    "%252e%252e/%252e%252e/x.png",
    "..\\..\\x.png",
    "a/../../x.png",
]


def _refused(response, path: str, rule: str, field: str) -> None:
    assert response.status_code == 403, (path, field, response.status_code, response.text[:500])
    body = response.json()
    assert body["error_code"] == "ModelArts.0210" and path in body["error_msg"], body
    assert (body["details"][0]["rule"], body["details"][0]["field"]) == (rule, field), (path, body)


async def _objects(e2e) -> dict[str, bytes]:
    return {info.key: await e2e.store.get(info.uri) for info in await e2e.store.list(e2e.bucket)}


def _unpacked(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


async def _tenant_a_world(e2e) -> dict[str, str]:
    """Tenant A's data in every area: its files, a dataset's own area, a model, a Triton and a training object."""
    files = datagen.image_classification_files(per_class=2)
    for name, data in files.items():
        await e2e.store.put(e2e.tenant_uri(f"sec/in/{name}"), data)
    imported = await e2e.ok(
        "POST",
        "/v1/datasets",
        json={"dataset_name": "a-files", "dataset_type": 0, "input_path": e2e.tenant_uri("sec/in/")},
    )
    own = await e2e.ok("POST", "/v1/datasets", json={"dataset_name": "a-own", "dataset_type": 0})
    image = next(k for k in files if k.endswith(".png"))
    await e2e.ok(
        "POST",
        f"/v1/datasets/{own['dataset_id']}/samples",
        files=[("files", (image, files[image], "image/png"))],
    )
    model = await e2e.ok(
        "POST",
        "/v1/models",
        data={"model_name": "a-model"},
        files={
            "file": ("a.tar.gz", model_packages.tar_gz(model_packages.image_package()), "application/gzip")
        },
    )
    for key in ("triton/a-model/1/model.py", f"training/{A}/job/package/manifest.json"):
        await e2e.store.put(f"s3://{e2e.bucket}/{key}", b"platform bytes")
    await e2e.wait_imported(imported["dataset_id"])
    return {"dataset": own["dataset_id"], "model": model["model_id"], "image": image}


async def _tenant_b(e2e) -> dict:
    key = (await e2e.ok("POST", "/v1/api-keys", json={"name": "b", "roles": ["admin"], "tenant_id": B}))[
        "key"
    ]
    headers = {"X-Auth-Token": key}
    b = {"headers": headers}
    await e2e.ok(
        "POST",
        "/v1/models",
        headers=headers,
        data={"model_name": "b-model"},
        files={
            "file": ("b.tar.gz", model_packages.tar_gz(model_packages.image_package(1)), "application/gzip")
        },
    )
    for name in ("b-own", "b-legacy"):
        b[name] = (
            await e2e.ok(
                "POST", "/v1/datasets", headers=headers, json={"dataset_name": name, "dataset_type": 0}
            )
        )["dataset_id"]
    return b


async def _storage_attacks(e2e, a: dict[str, str], b: dict) -> None:
    post = lambda path, **kw: e2e.client.post(path, headers=b["headers"], **kw)
    own, legacy = b["b-own"], b["b-legacy"]
    for n, (path, rule) in enumerate(_targets(e2e.bucket, a["dataset"])):
        _refused(
            await post("/v1/datasets", json={"dataset_name": f"x{n}", "dataset_type": 0, "input_path": path}),
            path,
            rule,
            "input_path",
        )
        _refused(
            await post("/v1/datasets", json={"dataset_name": f"y{n}", "dataset_type": 0, "work_path": path}),
            path,
            rule,
            "work_path",
        )
        for field in ("input_path", "work_path"):
            _refused(
                await e2e.client.put(f"/v1/datasets/{own}", json={field: path}, headers=b["headers"]),
                path,
                rule,
                field,
            )
        _refused(
            await post(f"/v1/datasets/{own}/import-tasks", json={"import_path": path}),
            path,
            rule,
            "import_path",
        )
        manifest = f"{path}in.manifest"
        _refused(
            await post(f"/v1/datasets/{own}/import-tasks", json={"import_path": manifest}),
            manifest,
            rule,
            "import_path",
        )
        _refused(
            await post(
                "/v1/projects",
                json={"name": f"p{n}", "project_type": "image_classification", "input_path": path},
            ),
            path,
            rule,
            "input_path",
        )
        _refused(
            await post(
                "/v1/projects",
                json={
                    "name": f"q{n}",
                    "project_type": "image_classification",
                    "input_path": e2e.tenant_uri("in/", B),
                    "output_path": path,
                },
            ),
            path,
            rule,
            "output_path",
        )
    await _legacy_paths(e2e, b, legacy, e2e.tenant_uri("sec/in/", A))
    for name in UPLOAD_NAMES:
        sent = await post(f"/v1/datasets/{own}/samples", files=[("files", (name, b"\x89PNG", "image/png"))])
        _refused(sent, name, "storage_path_traversal", "files")
        member = {name.replace(".png", ".json"): b"{}", **model_packages.image_package()}
        uploaded = await post(
            "/v1/models",
            data={"model_name": "b-evil"},
            files={"file": ("e.tar.gz", model_packages.tar_gz(member), "application/gzip")},
        )
        assert (
            uploaded.status_code == 403 and uploaded.json()["details"][0]["rule"] == "storage_path_traversal"
        ), name
    # A companion file travels only with its sample (a model file dressed as labels is refused).
    lonely = await post(
        f"/v1/datasets/{own}/samples", files=[("files", ("model.lgb.txt", b"tree\n", "text/plain"))]
    )
    assert lonely.status_code == 400 and lonely.json()["details"][0]["rule"] == "companion_without_sample"
    await _manifest_naming_others(e2e, a, b)


async def _legacy_paths(e2e, b: dict, dataset_id: str, path: str) -> None:
    """A dataset row whose paths name another tenant's area (as one written before the policy could be): every
    operation using them is refused when it runs."""
    from dataset.models import Dataset

    async with e2e.runtimes["dataset"].db.session() as session:
        await session.execute(
            sa.update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(input_path=path, work_path=path + "out/")
        )
    _refused(
        await e2e.client.post(f"/v1/datasets/{dataset_id}/sync", headers=b["headers"]),
        path,
        "storage_other_tenant",
        "input_path",
    )
    _refused(
        await e2e.client.post(f"/v1/datasets/{dataset_id}/import-tasks", json={}, headers=b["headers"]),
        path,
        "storage_other_tenant",
        "input_path",
    )
    image = datagen.image_classification_files(per_class=1)
    upload = [("files", (k, v, "application/octet-stream")) for k, v in image.items()]
    _refused(
        await e2e.client.post(f"/v1/datasets/{dataset_id}/samples", files=upload, headers=b["headers"]),
        path,
        "storage_other_tenant",
        "input_path",
    )
    published = await e2e.client.post(f"/v1/datasets/{dataset_id}/versions", json={}, headers=b["headers"])
    assert published.status_code == 403 and published.json()["details"][0]["rule"] == "storage_other_tenant"


async def _manifest_naming_others(e2e, a: dict[str, str], b: dict) -> None:
    """B's own manifest names A's objects: every line is refused by its rule, nothing is read or imported, and
    the errors name the lines, never the objects."""
    sources = [path + a["image"] for path, _ in _targets(e2e.bucket, a["dataset"])]
    lines = [
        json.dumps({"source": s, "annotation": [{"type": "modelarts/image_classification", "name": "x"}]})
        for s in sources
    ]
    manifest = e2e.tenant_uri("attack.manifest", B)
    await e2e.store.put(manifest, "\n".join(lines).encode())
    task = await e2e.ok(
        "POST",
        f"/v1/datasets/{b['b-own']}/import-tasks",
        json={"import_path": manifest},
        headers=b["headers"],
    )

    async def finished():
        got = await e2e.ok(
            "GET", f"/v1/datasets/{b['b-own']}/import-tasks/{task['task_id']}", headers=b["headers"]
        )
        return got["status"] in ("COMPLETED", "FAILED") and got

    done = await wait_until(finished, timeout=60, what="B's manifest import")
    assert done["status"] == "COMPLETED" and done["imported_sample_count"] == 0
    rules = [rule for _, rule in _targets(e2e.bucket, a["dataset"])]
    assert [(e["file"], e["rule"]) for e in done["errors"]] == [
        (f"{manifest}#{i}", r) for i, r in enumerate(rules, 1)
    ]
    text = json.dumps(done["errors"])
    assert f"/{A}/" not in text and a["image"] not in text, text
    samples = await e2e.ok("GET", f"/v1/datasets/{b['b-own']}/samples", headers=b["headers"])
    assert samples["total"] == 0


@functools.cache
def _fifty_megabytes() -> bytes:
    return b'{"a": "' + b"x" * (50 * 1024 * 1024) + b'"}'


DEEP = b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


def _json_operations(doc: dict) -> list[tuple[str, str]]:
    found = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "0" * 32, path)))
    return found


async def _json_limits(e2e, headers: dict[str, str]) -> int:
    """Deep (10,000 levels) and 50 MB bodies to every JSON endpoint, through the gateway and to each service
    directly: 400 json_depth and 413 json_size, never a 5xx. Returns how many endpoints were tried."""
    clients = {"gateway": e2e.client, **e2e.gateway_app.state.clients}
    tried = 0
    for name, client in clients.items():
        operations = _json_operations((await client.get("/openapi.json")).json())
        assert operations or name == "registry", name  # the registry takes uploads (multipart) only
        predict = [("POST", f"/v1/infers/{'0' * 32}")] if name in ("gateway", "inference") else []
        for method, path in operations + predict:
            json_type = {"content-type": "application/json"}
            deep = await client.request(method, path, content=DEEP, headers=headers | json_type)
            assert deep.status_code == 400 and deep.json()["details"][0]["rule"] == "json_depth", (name, path)
            big = await client.request(method, path, content=_fifty_megabytes(), headers=headers | json_type)
            assert big.status_code == 413 and big.json()["details"][0]["rule"] == "json_size", (name, path)
            tried += 1

    async def stream():  # no Content-Length: counted while it arrives, refused at the limit
        chunk = b" " * (1024 * 1024)
        for _ in range(50):
            yield chunk

    streamed = await e2e.client.post(
        "/v1/datasets", content=stream(), headers=headers | {"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    return tried


@pytest.mark.parametrize("mode", ["distributed", "embedded"])
async def test_a_tenant_names_only_its_own_storage_and_no_json_body_breaks_the_platform(
    e2e_factory, mode
) -> None:
    e2e = await e2e_factory(mode)
    a = await _tenant_a_world(e2e)
    exported = await e2e.client.get(f"/v1/models/{a['model']}/versions/0.0.1/export")
    assert exported.status_code == 200
    b = await _tenant_b(e2e)
    before = await _objects(e2e)
    assert any(k.startswith(f"models/{A}/") for k in before) and any(
        k.startswith(f"models/{B}/") for k in before
    )

    await _storage_attacks(e2e, a, b)
    assert (
        await e2e.client.get(f"/v1/models/{a['model']}/versions/0.0.1/export", headers=b["headers"])
    ).status_code == 404
    tried = await _json_limits(e2e, b["headers"])
    print(f"JSON limits: {tried} endpoint checks")
    assert tried >= 40, tried

    after = await _objects(e2e)
    assert after.keys() - before.keys() == {
        f"tenants/{B}/attack.manifest"
    }  # the one file B wrote into its area
    assert {k: before[k] for k in before} == {k: after[k] for k in before}  # every object's bytes unchanged
    again = await e2e.client.get(f"/v1/models/{a['model']}/versions/0.0.1/export")
    assert _unpacked(again.content) == _unpacked(exported.content)
