"""Schemathesis against the gateway's aggregated OpenAPI document, over real HTTP.

The whole platform runs as ``python -m gateway.embedded`` (the ``make run`` process) in a subprocess, on
PostgreSQL (one schema per service) and the S3 server, with Triton. Schemathesis reads ``/openapi.json``
and sends, for every operation, the documented examples, boundary cases and a bounded number of
generated requests (``EXEML_FUZZ_EXAMPLES`` per operation, default 12) with an admin key. Every response
must be no 5xx, carry a documented status code and content type, and match the documented schema.

A few resources are created first and their ids handed to Schemathesis, so generated requests reach
real resources (datasets, samples, versions, jobs, projects, models, services …) and not only 404s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from gateway.proxy import SERVICES

from shared.context import new_id
from shared.testing import datagen, model_packages
from shared.testing.infra import POSTGRES_URL, require_tcp
from shared.testing.live import embedded_process
from shared.testing.s3 import S3Server

ADMIN_KEY = "exeml_fuzz-admin-key-0000000000000000000000000"
FUZZ_BUCKET = f"fuzz-{new_id()[:10]}"
EXAMPLES = int(os.environ.get("EXEML_FUZZ_EXAMPLES", "12"))
# Streams that never end by design: the SSE endpoint is tested by the gateway's own tests.
EXCLUDED_PATHS = ["/v1/events"]
# Valid-by-schema requests that break a rule JSON Schema cannot state (detection labels need a colour, a
# version needs labeled samples, traffic weights sum to 100) are rightly refused with 400/409.
EXCLUDED_CHECKS = ["positive_data_acceptance"]


@pytest.fixture(scope="module")
def live_gateway(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make run``'s process on PostgreSQL and S3; yields its base URL."""
    url = sa.engine.make_url(POSTGRES_URL)
    require_tcp("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    run = new_id()[:10]
    schemas = {name: f"fz_{run}_{name}" for name in ("gateway", *SERVICES)}
    env = {
        "EXEML_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "EXEML_DATABASE_URL": POSTGRES_URL,
        "EXEML_STORAGE": "s3",
        "EXEML_STORAGE_BUCKET": FUZZ_BUCKET,
        "EXEML_S3_ENDPOINT": s3_server.endpoint,
        "EXEML_S3_ACCESS_KEY": s3_server.access_key,
        "EXEML_S3_SECRET_KEY": s3_server.secret_key,
        "EXEML_LOG_LEVEL": "WARNING",
        "EXEML_TORCH_THREADS": "1",
        "EXEML_TRAINER_BUDGET_CAP_SECONDS": "5",
        "EXEML_IMAGE_CANDIDATES": "test_efficientnet@32",
    } | {f"EXEML_{name.upper()}_DB_SCHEMA": schema for name, schema in schemas.items()}
    try:
        with embedded_process(tmp_path_factory.mktemp("fuzz"), env) as base:
            yield base
    finally:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            for schema in schemas.values():
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def _seed(base: str, s3_server: S3Server, bucket: str) -> dict[str, list[str]]:
    """Real resources for the path parameters: a dataset with samples, its import task and a version, a
    training job, a project, a model version, a service serving it, a webhook and an API key.
    Returns parameter name -> ids."""
    import boto3

    endpoint = s3_server.endpoint if "://" in s3_server.endpoint else f"http://{s3_server.endpoint}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1",
    )
    for path, data in datagen.image_classification_files(per_class=4).items():
        s3.put_object(Bucket=bucket, Key=f"tenants/default/seed/input/{path}", Body=data)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)

    def ok(method: str, path: str, **kwargs) -> dict:
        response = api.request(method, path, **kwargs)
        assert response.status_code < 300, (
            f"seeding {method} {path}: {response.status_code} {response.text[:1000]}"
        )
        return response.json()

    def until(what: str, predicate) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"seeding: timed out waiting for {what}")

    dataset = ok(
        "POST",
        "/v1/datasets",
        json={
            "dataset_name": "seed-flowers",
            "dataset_type_name": "image_classification",
            "input_path": f"s3://{bucket}/tenants/default/seed/input/",
            "work_path": f"s3://{bucket}/tenants/default/seed/output/",
        },
    )
    dataset_id = dataset["dataset_id"]
    until("the import", lambda: ok("GET", f"/v1/datasets/{dataset_id}")["labeled_sample_count"] >= 8)
    samples = ok("GET", f"/v1/datasets/{dataset_id}/samples", params={"limit": 3})["items"]
    version = ok("POST", f"/v1/datasets/{dataset_id}/versions", json={})
    project = ok(
        "POST",
        "/v1/projects",
        json={"name": "seedproject", "project_type": "image_classification", "dataset_id": dataset_id},
    )
    package = {"model_name": "seed-model"}
    model = ok(
        "POST",
        "/v1/models",
        data=package,
        files={
            "file": ("pkg.tar.gz", model_packages.tar_gz(model_packages.image_package()), "application/gzip")
        },
    )
    service = ok(
        "POST",
        "/v1/services",
        json={
            "service_name": "seed-service",
            "config": [
                {
                    "model_id": model["model_id"],
                    "model_version": model["model_version"],
                    "weight": 100,
                    "specification": "cpu",
                    "instance_count": 1,
                }
            ],
        },
    )
    tasks = ok("GET", f"/v1/datasets/{dataset_id}/import-tasks")["items"]
    job_body = {
        "dataset_id": dataset_id,
        "dataset_version_id": version["version_id"],
        "task_type": "image_classification",
        "name": "seed-job",
    }
    # The trainer learns of the version from its event: retry until it knows it.
    job = until(
        "the trainer to accept a job",
        lambda: (r := api.post("/v1/training-jobs", json=job_body)).is_success and r.json(),
    )
    hook = ok("POST", "/v1/webhooks", json={"url": "https://ci.example.com/exeml-hook", "event_types": ["*"]})
    key = ok("POST", "/v1/api-keys", json={"name": "seed-viewer", "roles": ["viewer"]})
    api.close()
    return {
        "task_id": [t["task_id"] for t in tasks],
        "job_id": [job["id"]],
        "webhook_id": [hook["id"]],
        "key_id": [key["id"]],
        "dataset_id": [dataset_id],
        "sample_id": [s["sample_id"] for s in samples],
        "version_id": [version["version_id"]],
        "project_id": [project["id"]],
        "model_id": [model["model_id"]],
        "version": [model["model_version"]],
        "service_id": [service["service_id"]],
        "name": ["daisy", "rose"],
    }


def _config(path: Path, ids: dict[str, list[str]]) -> Path:
    """A schemathesis.toml binding path parameters to the seeded ids in most generated requests."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", "values = [" + ", ".join(f'"{v}"' for v in values) + "]", ""]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.7 }}' for name in ids]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gateway_api_conforms_to_its_openapi(live_gateway: str, s3_server: S3Server, tmp_path: Path) -> None:
    ids = _seed(live_gateway, s3_server, FUZZ_BUCKET)
    config = _config(tmp_path / "schemathesis.toml", ids)
    # The CLI, not ``@schema.parametrize``: the pytest plugin's lazy loader breaks on pytest 9.2 (``_nodeid``).
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{live_gateway}/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_KEY}",
        "--checks",
        "all",
        *(["--exclude-checks", ",".join(EXCLUDED_CHECKS)] if EXCLUDED_CHECKS else []),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",  # the same cases every run
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
        "--no-color",
        *[arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)],
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, check=False)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
