"""The real dataset service feeds the trainer: CSV import, publish, then a training job on that version."""

from __future__ import annotations

import csv
import io
import json

from shared.manifest import parse_lines
from shared.packages import load_predictor
from shared.testing.model_packages import download_package
from shared.testing.platform import wait_until


async def test_table_published_by_the_dataset_service_is_trained(platform_factory, tables, tmp_path) -> None:
    platform = await platform_factory(
        ["dataset", "trainer"],
        overrides={
            "trainer": {"budget_cap_seconds": 40, "in_process_worker": True, "worker_poll_seconds": 0.2}
        },
    )
    platform.cleanup_queues.append(platform.settings["trainer"].bus_queue("trainer.jobs.cpu"))
    store = platform.runtimes["dataset"].store
    datasets = platform.client("dataset")
    folder = platform.tenant_uri("in/churn/")
    await store.put(f"{folder}part1.csv", tables.to_csv(tables.make_rows(300, seed=5)))
    await store.put(f"{folder}part2.csv", tables.to_csv(tables.make_rows(200, seed=6)))
    created = await datasets.post(
        "/v1/datasets",
        json={
            "dataset_name": "churn",
            "dataset_type": 400,
            "input_path": folder,
            "work_path": platform.tenant_uri("out/churn/"),
            "with_column_header": True,
        },
    )
    assert created.status_code == 201, created.text
    ds = created.json()

    async def imported() -> bool:
        task = (
            await datasets.get(f"/v1/datasets/{ds['dataset_id']}/import-tasks/{ds['import_task_id']}")
        ).json()
        assert task["status"] != "FAILED", task
        return task["status"] == "COMPLETED"

    await wait_until(imported, timeout=60, what="the CSV import")
    published = await datasets.post(
        f"/v1/datasets/{ds['dataset_id']}/versions", json={"train_evaluate_sample_ratio": "0.8"}
    )
    assert published.status_code == 201, published.text
    version_id = published.json()["version_id"]
    trainer = platform.client("trainer")
    body = {
        "dataset_id": ds["dataset_id"],
        "dataset_version_id": version_id,
        "task_type": "predictive_analytics",
        "parameters": {"training_preference": "performance_first"},
    }

    async def accepted() -> dict | None:  # 404 until the trainer has seen dataset.version.published.v1
        response = await trainer.post("/v1/training-jobs", json=body)
        assert response.status_code in (201, 404), response.text
        return response.json() if response.status_code == 201 else None

    job = await wait_until(accepted, timeout=60, interval=0.5, what="the trainer to know the version")

    async def finished() -> dict | None:
        current = (await trainer.get(f"/v1/training-jobs/{job['id']}")).json()
        return current if current["status"] in ("completed", "failed") else None

    job = await wait_until(finished, timeout=120, interval=0.3, what="the training job")
    assert job["status"] == "completed", (job["error_msg"], job["logs"][-10:])
    assert job["metrics"]["problem"] == "classification" and job["metrics"]["eval_count"] == 100

    # The frozen eval.csv of the version, through the package's predictor: the reported accuracy.
    version = (await datasets.get(f"/v1/datasets/{ds['dataset_id']}/versions/{version_id}")).json()
    lines = list(parse_lines((await store.get(version["manifest_path"])).decode()))
    eval_csv = next(line.source for line in lines if line.usage == "EVAL")
    rows = list(csv.DictReader(io.StringIO((await store.get(eval_csv)).decode())))
    await download_package(store, job["package_uri"], tmp_path)
    requests = [{k: v for k, v in row.items() if k != "class"} for row in rows]
    answers = load_predictor(tmp_path).predict(json.dumps(requests).encode())["data"]["resp_data"]
    accuracy = sum(a["predict"] == row["class"] for a, row in zip(answers, rows)) / len(rows)
    assert accuracy == job["metrics"]["accuracy"] and accuracy > 0.75
