"""Batch services (``/v1/batch-services``) through the Python client, against ``make run``'s process."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time

import httpx
import pytest
from exeml_client import AsyncClient, Client, NotFound

from shared.testing.model_packages import table_package, tar_gz

ROWS = 30


def _register_table_model(gateway, name: str) -> tuple[str, str]:
    response = httpx.post(
        f"{gateway.url}/v1/models",
        data={"model_name": name},
        files={"file": ("pkg.tar.gz", tar_gz(table_package(0)), "application/gzip")},
        headers={"Authorization": f"Bearer {gateway.key}"},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    return response.json()["model_id"], response.json()["model_version"]


def _csv_rows(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["attr_1", "attr_2", "attr_3"])
    for i in range(rows):
        writer.writerow([f"{(i % 7) / 3 - 1:.2f}", f"{(i % 5) / 2 - 1:.2f}", str(i % 3)])
    return out.getvalue().encode()


def test_a_batch_service_answers_a_folder_and_is_listed_stopped_and_deleted(gateway, api: Client) -> None:
    prefix = f"tenants/default/batch-{int(time.time() * 1000)}"  # the tenant's own storage area (ADR 0008)
    source = gateway.objects / "exeml" / prefix / "in"
    source.mkdir(parents=True)
    (source / "rows.csv").write_bytes(_csv_rows(ROWS))
    model_id, version = _register_table_model(gateway, prefix.rsplit("/", 1)[-1])

    created = api.batch_services.create(
        "client-batch", model_id, version, f"s3://exeml/{prefix}/in/", f"s3://exeml/{prefix}/out/"
    )
    assert created.infer_type == "batch" and created.config[0].model_version == version
    deadline = time.monotonic() + 240
    service = created
    while service.status not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(1)
        service = api.batch_services.get(created.service_id)
    assert service.status == "finished", service.error_msg
    assert service.input_count == service.processed_count == ROWS and service.failed_count == 0
    lines = (gateway.objects / "exeml" / prefix / "out" / "results.jsonl").read_text().splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["row"] for a in answers] == list(range(1, ROWS + 1))
    assert all(a["result"]["predict"] in ("no", "yes") for a in answers)

    listed = [s.service_id for s in api.batch_services.list(name="client-batch")]
    assert created.service_id in listed

    async def read_async() -> str:
        async with AsyncClient(gateway.url, gateway.key) as aapi:
            return (await aapi.batch_services.get(created.service_id)).status

    assert asyncio.run(read_async()) == "finished"
    api.batch_services.delete(created.service_id)
    with pytest.raises(NotFound):
        api.batch_services.get(created.service_id)


def test_stopping_an_unknown_batch_service_is_a_typed_not_found(api: Client) -> None:
    with pytest.raises(NotFound):
        api.batch_services.stop("0" * 32)
