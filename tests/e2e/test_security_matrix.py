"""Tenant isolation and roles through the gateway, over every resource a project creates."""

from __future__ import annotations

from shared.testing import datagen


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
    sample_id = (await e2e.ok("GET", f"/v1/datasets/{dataset_id}/samples", params={"limit": 1}))["items"][0]["sample_id"]
    image = next(v for k, v in datagen.image_classification_files(per_class=1).items() if k.endswith(".png"))

    other_key = (await e2e.ok("POST", "/v1/api-keys", json={"name": "b-admin", "roles": ["admin"],
                                                             "tenant_id": "tenant-b"}))["key"]
    viewer_key = (await e2e.ok("POST", "/v1/api-keys", json={"name": "a-viewer", "roles": ["viewer"]}))["key"]
    other = {"X-Auth-Token": other_key}
    reads = [
        f"/v1/projects/{pid}", f"/v1/projects/{pid}/executions", f"/v1/datasets/{dataset_id}",
        f"/v1/datasets/{dataset_id}/samples/{sample_id}", f"/v1/datasets/{dataset_id}/versions/{version_id}",
        f"/v1/datasets/{dataset_id}/annotations/{sample_id}", f"/v1/training-jobs/{job_id}",
        f"/v1/models/{model_id}", f"/v1/models/{model_id}/versions/0.0.1/export", f"/v1/services/{service_id}",
    ]
    for path in reads:
        response = await e2e.client.get(path, headers=other)
        assert response.status_code == 404, (path, response.status_code, response.text[:300])
    writes = [
        ("DELETE", f"/v1/projects/{pid}", None), ("POST", f"/v1/projects/{pid}/workflow/stop", None),
        ("DELETE", f"/v1/datasets/{dataset_id}", None),
        ("POST", f"/v1/datasets/{dataset_id}/samples/delete", {"samples": [sample_id]}),
        ("PUT", f"/v1/datasets/{dataset_id}/annotations/{sample_id}", {"annotations": [{"name": "red"}]}),
        ("POST", f"/v1/training-jobs/{job_id}/stop", None), ("DELETE", f"/v1/models/{model_id}", None),
        ("PUT", f"/v1/services/{service_id}", {"status": "stopped"}), ("DELETE", f"/v1/services/{service_id}", None),
    ]
    for method, path, body in writes:
        response = await e2e.client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.status_code, response.text[:300])
    predicted = await e2e.client.post(f"/v1/infers/{service_id}", files={"images": ("x.png", image, "image/png")},
                                      headers=other)
    assert predicted.status_code == 404
    for listing in ("/v1/projects", "/v1/datasets", "/v1/training-jobs", "/v1/models", "/v1/services"):
        body = (await e2e.client.get(listing, headers=other)).json()
        assert body.get("total", len(body.get("items", []))) == 0, (listing, body)

    viewer = {"X-Auth-Token": viewer_key}
    for method, path, body in writes:
        response = await e2e.client.request(method, path, json=body, headers=viewer)
        assert response.status_code == 403, (method, path, response.status_code)
    assert (await e2e.client.get(f"/v1/projects/{pid}", headers=viewer)).status_code == 200
    ok = await e2e.client.post(f"/v1/infers/{service_id}", files={"images": ("x.png", image, "image/png")},
                               headers=viewer)
    assert ok.status_code == 200, ok.text
    # Nothing was touched by those attempts: the owner still sees a running service.
    assert (await e2e.ok("GET", f"/v1/services/{service_id}"))["status"] == "running"
    for token in ("", "exeml_nope", other_key + "x"):
        assert (await e2e.client.get(f"/v1/projects/{pid}", headers={"X-Auth-Token": token})).status_code == 401
