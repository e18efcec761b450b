"""The guide's training flavors and deployment specifications: listed per project type, accepted, mapped."""

from __future__ import annotations

import pytest

from shared.testing import datagen


async def test_flavors_are_listed_per_project_type_with_their_availability_here(projects) -> None:
    response = await projects.client.get(
        "/v1/projects/flavors", params={"project_type": "text_classification"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project_type"] == "text_classification" and body["gpu_available"] is False
    training = {f["name"]: f for f in body["training_flavors"]}
    assert training["cpu"]["available"] is True and training["cpu"]["maps_to"] == "cpu"
    assert training["Free (GPU)"]["available"] is False and training["Free (GPU)"]["maps_to"] == "gpu"
    assert training["Compute-intensive 2 instance (NPU)"]["available"] is False
    specs = {s["name"]: s for s in body["specifications"]}
    assert specs["Free (CPU)"] == {
        "name": "Free (CPU)",
        "category": "CPU",
        "maps_to": "modelarts.vm.cpu.2u",
        "description": "The guide's free CPU specification: 2 vCPUs | 8 GiB",
        "available": True,
    }
    assert specs["Compute-intensive 3 instance (CPU)"]["maps_to"] == "modelarts.vm.cpu.8u"
    assert specs["NV_P4"]["category"] == "GPU" and specs["NV_P4"]["available"] is False
    assert {h["name"] for h in body["inference_hardware"]} >= {"CPU", "NV_P4"}


async def test_tables_list_cpu_flavors_and_specifications_only(projects) -> None:
    response = await projects.client.get(
        "/v1/projects/flavors", params={"project_type": "predictive_analytics"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    listed = body["training_flavors"] + body["specifications"] + body["inference_hardware"]
    assert listed and {f["category"] for f in listed} == {"CPU"}
    assert all(f["available"] for f in listed)
    bad = await projects.client.get("/v1/projects/flavors", params={"project_type": "video"})
    assert bad.status_code == 400


@pytest.mark.parametrize("flavor", ["Free (GPU)", "gpu", "compute-intensive 1 instance (gpu)"])
async def test_a_gpu_training_flavor_on_a_cpu_only_installation_is_unavailable_not_unknown(
    projects, flavor
) -> None:
    body = {"name": "gpuflavor", "project_type": "image_classification", "input_path": "s3://b/in/"}
    response = await projects.client.post("/v1/projects", json=body | {"flavor": flavor})
    assert response.status_code == 400, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "flavor" and detail["rule"] == "flavor_unavailable", detail
    assert "unavailable" in response.json()["error_msg"]
    unknown = await projects.client.post("/v1/projects", json=body | {"flavor": "TPU v9"})
    assert unknown.status_code == 400 and unknown.json()["details"][0]["rule"] == "flavor_unknown"


async def test_guide_names_are_accepted_and_stored_as_what_this_installation_runs(projects) -> None:
    input_path = await projects.upload("guide/input", datagen.image_classification_files(per_class=2))
    project = await projects.create(
        name="guide",
        project_type="image_classification",
        input_path=input_path,
        flavor="cpu",
        training_params={"inference_hardware": "NV_P4"},
    )
    assert project["flavor"] == "cpu" and project["training_params"]["inference_hardware"] == "GPU"
    deploy = f"/v1/projects/{project['id']}/workflow/deploy"
    # A valid specification reaches the phase check (deployment is not awaited yet: 409).
    for name in ("Free (CPU)", "Compute-intensive 3 instance (CPU)", "cpu", "modelarts.vm.cpu.2u"):
        accepted = await projects.client.post(deploy, json={"specification": name})
        assert accepted.status_code == 409, (name, accepted.text)
    gpu = await projects.client.post(deploy, json={"specification": "NV_P4"})
    assert gpu.status_code == 400, gpu.text
    detail = gpu.json()["details"][0]
    assert detail["field"] == "specification" and detail["rule"] == "specification_unavailable"
    entry = {"model_id": "0" * 32, "model_version": "0.0.1", "weight": 100, "specification": "NV_P4"}
    in_config = await projects.client.post(deploy, json={"config": [entry]})
    assert in_config.json()["details"][0]["field"] == "config.0.specification", in_config.text


async def test_a_table_project_refuses_gpu_names(projects) -> None:
    body = {
        "name": "churn",
        "project_type": "predictive_analytics",
        "input_path": "s3://b/in/",
        "label_column": "y",
        "label_type": "discrete",
        "flavor": "ExeML (GPU)",
    }
    response = await projects.client.post("/v1/projects", json=body)
    assert response.status_code == 400, response.text
    assert "predictive_analytics" in response.json()["error_msg"]
