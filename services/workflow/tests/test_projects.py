"""Projects API and the first phases of a round, against the real dataset and labeling services."""

from __future__ import annotations

import pytest

from shared.testing import datagen
from shared.testing.platform import wait_until


async def test_image_round_labels_publishes_checks_and_fails_train_without_a_trainer(projects) -> None:
    input_path = await projects.upload("flowers/input", datagen.image_classification_files(per_class=6))
    project = await projects.create(
        name="flowers",
        project_type="image_classification",
        input_path=input_path,
        output_path=projects.platform.tenant_uri("flowers/output/"),
        tags=["demo"],
    )
    phases = [(p["name"], p["title"], p["status"]) for p in project["execution"]["phases"]]
    assert phases[0] == ("label_data", "Label Data", "awaiting_operation")
    assert [p[0] for p in phases] == [
        "label_data",
        "publish_dataset",
        "check_data",
        "train",
        "register_model",
        "deploy_service",
    ]
    assert phases[3][1] == "Classify Images" and project["status"] == "running"
    await projects.wait_imported(project["dataset_id"], 18)

    # Labels came with the data (image + .txt): wait until the labeling service has them.
    await _labels_arrived(projects, project["dataset_id"], 18)
    moved = await projects.client.post(f"/v1/projects/{project['id']}/workflow/next")
    assert moved.status_code == 200, moved.text
    again = await projects.client.post(f"/v1/projects/{project['id']}/workflow/next")
    assert again.status_code == 409

    done = await projects.wait_phase(project["id"], "check_data", "executed")
    phases = {p["name"]: p for p in done["execution"]["phases"]}
    assert phases["publish_dataset"]["instance"]["type"] == "dataset_version"
    assert (
        phases["publish_dataset"]["outputs"]["train_count"]
        + phases["publish_dataset"]["outputs"]["eval_count"]
        == 18
    )
    assert phases["label_data"]["duration_seconds"] is not None
    # No trainer in this platform: the Train phase fails with the reason and can be retried.
    failed = await projects.wait_phase(project["id"], "train", "failed")
    train = {p["name"]: p for p in failed["execution"]["phases"]}["train"]
    assert "trainer" in train["error_msg"] and failed["status"] == "abnormal"
    retried = await projects.client.post(f"/v1/projects/{project['id']}/workflow/retry")
    assert retried.status_code == 200
    assert {p["name"]: p for p in retried.json()["execution"]["phases"]}["train"]["status"] == "failed"


async def test_failed_data_check_fails_the_phase_with_the_violations(projects) -> None:
    input_path = await projects.upload(
        "few/input", datagen.image_classification_files(per_class=3, classes=("a", "b"))
    )
    project = await projects.create(name="few", project_type="image_classification", input_path=input_path)
    await projects.wait_imported(project["dataset_id"], 6)
    await _labels_arrived(projects, project["dataset_id"], 6)
    await projects.client.post(f"/v1/projects/{project['id']}/workflow/next")
    failed = await projects.wait_phase(project["id"], "check_data", "failed")
    check = {p["name"]: p for p in failed["execution"]["phases"]}["check_data"]
    assert "data check failed" in check["error_msg"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "1abc"}, "name"),
        ({"name": "a" * 65}, "name"),
        ({"name": "has space"}, "name"),
        ({"description": "x" * 501}, "description"),
        ({"project_type": "video"}, "project_type"),
        ({"training_params": {"train_ratio": 0.123456}}, "train_ratio"),
        ({"training_params": {"max_training_duration": 5}}, "max_training_duration"),
        ({"training_params": {"training_preference": "fastest"}}, "training_preference"),
        ({"dataset_id": "abc"}, "dataset_id"),
        ({"label_column": "y"}, "label_column"),
        ({"description": "nul \x00 byte"}, "description"),
        ({"input_path": "s3://b/in/\x01"}, "input_path"),
        ({"tags": [""]}, "tags"),
    ],
)
async def test_invalid_projects_are_refused_naming_the_field(projects, change, field) -> None:
    body = {"name": "ok", "project_type": "image_classification", "input_path": "s3://b/in/"} | change
    response = await projects.client.post("/v1/projects", json=body)
    assert response.status_code == 400, response.text
    assert any(field in (d.get("field") or "") for d in response.json()["details"]), response.json()


async def test_ids_and_parameters_that_cannot_exist_are_refused_before_the_database(projects) -> None:
    # Not an id we hand out (control characters, other lengths): 404, as an unknown project.
    for project_id in ("%01%0Eb", "a%00b", "nope", "3F9C2A7E41D84C0B9D7E5A1F2B3C4D5E"):
        for method, path in (("GET", ""), ("GET", "/executions"), ("DELETE", ""), ("POST", "/workflow/stop")):
            response = await projects.client.request(method, f"/v1/projects/{project_id}{path}")
            assert response.status_code == 404, (project_id, method, path, response.text)
            assert response.json()["error_code"] == "ModelArts.7512"
    for params in (
        {"offset": 10**12},
        {"limit": 0},
        {"status": "done"},
        {"phase": "fly"},
        {"project_type": "video"},
        {"search": "a\x00b"},
    ):
        response = await projects.client.get("/v1/projects", params=params)
        assert response.status_code == 400, (params, response.text)
    unknown = "0" * 32
    response = await projects.client.post(
        f"/v1/projects/{unknown}/executions", json={"training_params": {"max_training_duration": 5}}
    )
    assert response.status_code == 400 and "max_training_duration" in response.json()["details"][0]["field"]
    response = await projects.client.post(
        f"/v1/projects/{unknown}/workflow/deploy",
        json={"config": [{"model_id": "m", "model_version": "1", "weight": 100}]},
    )
    assert response.status_code == 400 and "model_version" in response.json()["details"][0]["field"]
    response = await projects.client.put(f"/v1/projects/{unknown}", json={"description": "\x00"})
    assert response.status_code == 400


async def test_the_documented_create_example_is_accepted_and_rounds_follow_the_documented_shapes(
    projects,
) -> None:
    from workflow.schemas import ExecutionRead, ProjectCreate

    example = ProjectCreate.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]  # the schema sets it
    input_path = await projects.upload("flowers/input", datagen.image_classification_files(per_class=5))
    created = await projects.create(
        **example | {"input_path": input_path, "output_path": projects.platform.tenant_uri("flowers/output/")}
    )
    assert created["project_type"] == "image_classification" and created["label_type"] is None
    stopped = await projects.client.post(f"/v1/projects/{created['id']}/workflow/stop")
    assert stopped.status_code == 200 and stopped.json()["execution"]["phases"][0]["status"] == "stopped"
    deploy = await projects.client.post(f"/v1/projects/{created['id']}/workflow/deploy", json={})
    assert deploy.status_code == 409, deploy.text
    again = await projects.client.post(
        f"/v1/projects/{created['id']}/executions", json={"training_params": {"max_training_duration": 120}}
    )
    assert again.status_code == 201 and again.json()["rounds"] == 2, again.text
    rounds = (await projects.client.get(f"/v1/projects/{created['id']}/executions")).json()
    assert [ExecutionRead.model_validate(r).round for r in rounds] == [2, 1]
    assert rounds[1]["status"] == "stopped" and rounds[0]["phases"][0]["status"] == "awaiting_operation"


async def test_predictive_analytics_needs_label_column_and_type(projects) -> None:
    body = {"name": "tab", "project_type": "predictive_analytics", "input_path": "s3://b/in/"}
    response = await projects.client.post("/v1/projects", json=body)
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "label_column"
    response = await projects.client.post("/v1/projects", json=body | {"label_column": "label"})
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "label_type"


async def test_names_are_unique_per_tenant_listing_filters_and_isolation(projects) -> None:
    input_path = await projects.upload("t/input", datagen.text_files(per_class=2))
    text = await projects.create(
        name="reviews", project_type="text_classification", input_path=input_path, tags=["nlp"]
    )
    dup = await projects.client.post(
        "/v1/projects",
        json={"name": "reviews", "project_type": "text_classification", "input_path": input_path},
    )
    assert dup.status_code == 409
    table_input = await projects.upload("tab/input", datagen.table_files(rows=120))
    table = await projects.create(
        name="churn",
        project_type="predictive_analytics",
        input_path=table_input,
        label_column="label",
        label_type="discrete",
    )
    assert table["execution"]["phases"][0]["name"] == "publish_dataset"
    listed = (await projects.client.get("/v1/projects", params={"sort_by": "name", "order": "asc"})).json()
    assert [p["name"] for p in listed["items"]] == ["churn", "reviews"] and listed["total"] == 2
    assert [
        p["name"] for p in (await projects.client.get("/v1/projects", params={"tag": "nlp"})).json()["items"]
    ] == ["reviews"]
    assert (await projects.client.get("/v1/projects", params={"search": "chu"})).json()["total"] == 1
    # A search term is text: LIKE's wildcards match only themselves (neither name holds % or _).
    for term, total in (("CHU", 1), ("%", 0), ("_", 0), ("c%n", 0), ("ch_rn", 0), ("\\", 0)):
        found = (await projects.client.get("/v1/projects", params={"search": term})).json()["total"]
        assert found == total, (term, found)
    typed = (await projects.client.get("/v1/projects", params={"project_type": "text_classification"})).json()
    assert [p["id"] for p in typed["items"]] == [text["id"]]
    assert (await projects.client.get("/v1/projects", params={"phase": "label_data"})).json()["total"] == 1

    updated = await projects.client.put(
        f"/v1/projects/{text['id']}", json={"description": "new", "tags": ["a"]}
    )
    assert updated.json()["description"] == "new" and updated.json()["tags"] == ["a"]

    other = projects.platform.client("workflow", tenant_id="tenant-b")
    assert (await other.get("/v1/projects")).json()["total"] == 0
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/workflow/next")):
        response = await other.request(
            method, f"/v1/projects/{text['id']}{path}", json={} if method == "PUT" else None
        )
        assert response.status_code == 404, (method, path)
    # another tenant may reuse the name
    other_input = await projects.upload("t2/input", datagen.text_files(per_class=2), tenant_id="tenant-b")
    reused = await other.post(
        "/v1/projects",
        json={"name": "reviews", "project_type": "text_classification", "input_path": other_input},
    )
    assert reused.status_code == 201, reused.text

    deleted = await projects.client.delete(f"/v1/projects/{text['id']}")
    assert deleted.status_code == 204
    assert (await projects.client.get(f"/v1/projects/{text['id']}")).status_code == 404


async def test_an_existing_dataset_of_another_type_is_refused(projects) -> None:
    dataset = await projects.platform.client("dataset").post(
        "/v1/datasets",
        json={
            "dataset_name": "sounds",
            "dataset_type": 200,
            "input_path": projects.platform.tenant_uri("s/in/"),
            "work_path": projects.platform.tenant_uri("s/out/"),
            "import_on_create": False,
        },
    )
    assert dataset.status_code == 201, dataset.text
    response = await projects.client.post(
        "/v1/projects",
        json={
            "name": "img",
            "project_type": "image_classification",
            "dataset_id": dataset.json()["dataset_id"],
        },
    )
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "dataset_id"
    ok = await projects.client.post(
        "/v1/projects",
        json={
            "name": "snd",
            "project_type": "sound_classification",
            "dataset_id": dataset.json()["dataset_id"],
        },
    )
    assert ok.status_code == 201, ok.text


async def test_a_failed_publish_fails_the_phase_with_its_reason(projects) -> None:
    input_path = await projects.upload("lost/input", datagen.image_classification_files(per_class=4))
    project = await projects.create(name="lost", project_type="image_classification", input_path=input_path)
    await projects.wait_imported(project["dataset_id"], 12)
    await _labels_arrived(projects, project["dataset_id"], 12)
    projects.platform.runtimes["dataset"].peers._clients.pop("labeling")  # the version cannot be frozen
    await projects.client.post(f"/v1/projects/{project['id']}/workflow/next")
    failed = await projects.wait_phase(project["id"], "publish_dataset", "failed")
    publish = {p["name"]: p for p in failed["execution"]["phases"]}["publish_dataset"]
    assert (
        "publishing dataset version V001 failed" in publish["error_msg"]
        and "labeling" in publish["error_msg"]
    )
    assert failed["status"] == "abnormal"


async def test_a_project_without_paths_gets_folders_in_the_tenants_own_area(projects) -> None:
    created = await projects.create(name="blank", project_type="text_classification")
    home = projects.platform.tenant_uri("")  # s3://<bucket>/tenants/tenant-a/
    dataset = (await projects.platform.client("dataset").get(f"/v1/datasets/{created['dataset_id']}")).json()
    assert dataset["input_path"] == f"{home}blank/input/", dataset
    assert dataset["work_path"] == f"{home}blank/output/", dataset
    both = await projects.client.post(
        "/v1/projects",
        json={
            "name": "both",
            "project_type": "text_classification",
            "dataset_id": created["dataset_id"],
            "input_path": f"{home}x/",
        },
    )
    assert both.status_code == 400 and both.json()["details"][0]["rule"] == "dataset_or_input_path"


async def test_a_project_is_renamed_under_the_rules_of_creation(projects) -> None:
    first = await projects.create(name="first", project_type="text_classification")
    await projects.create(name="taken", project_type="text_classification")
    renamed = await projects.client.put(f"/v1/projects/{first['id']}", json={"name": "renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed", renamed.text
    assert (await projects.get(first["id"]))["name"] == "renamed"
    listed = (await projects.client.get("/v1/projects", params={"search": "renamed"})).json()
    assert [p["id"] for p in listed["items"]] == [first["id"]]
    # Its own name again is no change; another project's name is taken (409, as at creation).
    same = await projects.client.put(f"/v1/projects/{first['id']}", json={"name": "renamed"})
    assert same.status_code == 200
    taken = await projects.client.put(f"/v1/projects/{first['id']}", json={"name": "taken"})
    assert taken.status_code == 409 and taken.json()["details"][0]["rule"] == "unique_name", taken.text
    # A name breaking the pattern, and fields that cannot change or do not exist, are 400s naming the field.
    for body, field in (
        ({"name": "1abc"}, "name"),
        ({"project_type": "object_detection"}, "project_type"),
        ({"dataset_id": "0" * 32}, "dataset_id"),
        ({"nmae": "typo"}, "nmae"),
    ):
        response = await projects.client.put(f"/v1/projects/{first['id']}", json=body)
        assert response.status_code == 400, (body, response.text)
        assert any(d.get("field") == field for d in response.json()["details"]), (body, response.json())
    assert (await projects.get(first["id"]))["name"] == "renamed"


async def test_an_incremental_round_names_a_registered_version_of_the_project(projects) -> None:
    created = await projects.create(name="fresh", project_type="text_classification")
    field = "training_params.incremental_training_version"
    # No round has registered a model yet: 0.0.1 does not exist (400 with the workflow's code, naming it).
    response = await projects.client.post(
        f"/v1/projects/{created['id']}/executions",
        json={"training_params": {"incremental_training_version": "0.0.1"}},
    )
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "ModelArts.7540" and error["details"][0]["field"] == field, error
    assert error["details"][0]["rule"] == "incremental_version_unknown"
    assert (await projects.get(created["id"]))["rounds"] == 1  # no round was started
    # A value that is no model version at all (a training job id, say) breaks the field's pattern.
    response = await projects.client.post(
        f"/v1/projects/{created['id']}/executions",
        json={"training_params": {"incremental_training_version": "6c8a0e2d4b1f4a3c9e5d7b0f2a4c6e8d"}},
    )
    assert (
        response.status_code == 400
        and "incremental_training_version" in response.json()["details"][0]["field"]
    )
    # A new project has no version to start from.
    response = await projects.client.post(
        "/v1/projects",
        json={
            "name": "newborn",
            "project_type": "text_classification",
            "training_params": {"incremental_training_version": "0.0.1"},
        },
    )
    assert response.status_code == 400 and response.json()["error_code"] == "ModelArts.7540", response.text


async def test_deploy_auto_stop_off_cannot_carry_a_schedule(projects) -> None:
    unknown = "0" * 32
    both = await projects.client.post(
        f"/v1/projects/{unknown}/workflow/deploy",
        json={"auto_stop": False, "schedule": {"type": "stop", "time_unit": "HOURS", "duration": 2}},
    )
    assert both.status_code == 400 and both.json()["details"][0]["field"] == "auto_stop", both.text
    off = await projects.client.post(f"/v1/projects/{unknown}/workflow/deploy", json={"auto_stop": False})
    assert off.status_code == 404, off.text  # a valid request: only the project is unknown
    not_bool = await projects.client.post(f"/v1/projects/{unknown}/workflow/deploy", json={"auto_stop": "no"})
    assert not_bool.status_code == 400


async def _labels_arrived(projects, dataset_id: str, count: int) -> None:
    labeling = projects.platform.client("labeling")

    async def labeled():
        stats = (await labeling.get(f"/v1/datasets/{dataset_id}/annotations/stats")).json()
        return sum(s["sample_count"] for s in stats["label_stats"]) == count

    await wait_until(labeled, timeout=30, what="imported labels")


async def test_a_round_names_the_dataset_version_it_publishes(projects) -> None:
    """The guide's Dataset Version of a round: "The system automatically provides a version number. You can
    change it to the version number that you want"."""
    input_path = await projects.upload("named/input", datagen.image_classification_files(per_class=6))
    project = await projects.create(name="named", project_type="image_classification", input_path=input_path)
    pid, field = project["id"], "training_params.dataset_version_name"
    await projects.wait_imported(project["dataset_id"], 18)
    await _labels_arrived(projects, project["dataset_id"], 18)

    for bad in ("v 1", "x" * 33, "v1.0", ""):
        response = await projects.client.post(
            f"/v1/projects/{pid}/executions", json={"training_params": {"dataset_version_name": bad}}
        )
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["details"][0]["field"] == field, response.json()
    round2 = await projects.client.post(
        f"/v1/projects/{pid}/executions", json={"training_params": {"dataset_version_name": "spring-2026"}}
    )
    assert round2.status_code == 201 and round2.json()["rounds"] == 2, round2.text
    await projects.client.post(f"/v1/projects/{pid}/workflow/next")
    done = await projects.wait_phase(pid, "check_data", "executed")
    publish = {p["name"]: p for p in done["execution"]["phases"]}["publish_dataset"]
    assert publish["outputs"]["version_name"] == "spring-2026", publish
    await projects.wait_phase(pid, "train", "failed")  # no trainer here: the round ends, another may start

    # The name is the dataset's now: a round asking for it again is refused before it starts.
    taken = await projects.client.post(
        f"/v1/projects/{pid}/executions", json={"training_params": {"dataset_version_name": "spring-2026"}}
    )
    assert taken.status_code == 409, taken.text
    error = taken.json()
    assert error["error_code"] == "ModelArts.4371" and "spring-2026" in error["error_msg"], error
    assert (error["details"][0]["field"], error["details"][0]["rule"]) == (field, "version_name_unique")
    assert (await projects.get(pid))["rounds"] == 2

    # Without a name, the dataset numbers the version as before.
    round3 = await projects.client.post(f"/v1/projects/{pid}/executions", json={})
    assert round3.status_code == 201, round3.text
    await projects.client.post(f"/v1/projects/{pid}/workflow/next")
    done = await projects.wait_phase(pid, "check_data", "executed")
    publish = {p["name"]: p for p in done["execution"]["phases"]}["publish_dataset"]
    assert publish["outputs"]["version_name"] == "V001", publish


async def test_project_paths_may_be_written_obs(projects) -> None:
    """The guide's paths are ``obs://bucket/path``: the configured store, under the same tenancy rules."""
    input_path = await projects.upload("obsproj/input", datagen.image_classification_files(per_class=2))
    output_path = projects.platform.tenant_uri("obsproj/output/")
    project = await projects.create(
        name="obsproj",
        project_type="image_classification",
        input_path=input_path.replace("s3://", "obs://", 1),
        output_path=output_path.replace("s3://", "obs://", 1),
    )
    dataset = (await projects.platform.client("dataset").get(f"/v1/datasets/{project['dataset_id']}")).json()
    assert (dataset["input_path"], dataset["work_path"]) == (input_path, output_path), dataset
    await projects.wait_imported(project["dataset_id"], 6)
    bucket = projects.platform.bucket
    for scheme in ("s3", "obs"):
        other = await projects.client.post(
            "/v1/projects",
            json={
                "name": f"other-{scheme}",
                "project_type": "image_classification",
                "input_path": f"{scheme}://{bucket}/tenants/tenant-b/input/",
            },
        )
        assert other.status_code == 403, other.text
        detail = other.json()["details"][0]
        assert (detail["field"], detail["rule"]) == ("input_path", "storage_other_tenant"), detail


async def test_next_answers_at_once_and_publishes_behind_the_answer(projects) -> None:
    input_path = await projects.upload("quick/input", datagen.image_classification_files(per_class=6))
    project = await projects.create(name="quick", project_type="image_classification", input_path=input_path)
    await projects.wait_imported(project["dataset_id"], 18)
    await _labels_arrived(projects, project["dataset_id"], 18)

    moved = await projects.client.post(f"/v1/projects/{project['id']}/workflow/next")
    assert moved.status_code == 200, moved.text
    publish = {p["name"]: p for p in moved.json()["execution"]["phases"]}["publish_dataset"]
    # The answer only records the step: the dataset version is created by the workflow's worker afterwards.
    assert publish["status"] == "running" and publish["progress"] == 0, publish
    assert publish["instance"] is None, publish
    assert moved.json()["current_phase"] == "publish_dataset"

    done = await projects.wait_phase(project["id"], "publish_dataset", "executed")
    publish = {p["name"]: p for p in done["execution"]["phases"]}["publish_dataset"]
    assert publish["instance"]["type"] == "dataset_version" and publish["progress"] == 100
    assert publish["outputs"]["train_count"] + publish["outputs"]["eval_count"] == 18
