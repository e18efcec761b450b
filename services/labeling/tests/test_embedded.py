"""The embedded mode: the same service on SQLite with the in-memory bus (what `make run` starts)."""

from __future__ import annotations

import httpx
from labeling.app import create_app
from labeling.config import Settings
from labeling.definition import SERVICE

from shared.auth import INTERNAL_TOKEN_HEADER, Principal
from shared.events.dataset import AddedSample, DatasetCreated, SamplesAdded
from shared.messaging.envelope import make_envelope
from shared.messaging.transport import OutgoingMessage
from shared.service import build_runtime
from shared.testing.platform import wait_until


async def test_labeling_on_sqlite_and_the_memory_bus(tmp_path) -> None:
    runtime = build_runtime(SERVICE, Settings(data_dir=tmp_path, outbox_poll_seconds=0.05))
    assert runtime.settings.database_url.startswith("sqlite")
    await runtime.migrate()
    await runtime.start(background=True)
    token = runtime.token_codec.issue(Principal(tenant_id="t1", subject="user:t1", roles=("admin",)))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime=runtime)),
        base_url="http://labeling",
        headers={INTERNAL_TOKEN_HEADER: token},
    )
    try:
        samples = [
            AddedSample(
                sample_id=f"s{i}",
                name=f"{i}.jpg",
                source=f"s3://b/{i}.jpg",
                sample_type=0,
                width=50,
                height=50,
                annotations=[{"name": "car", "bndbox": {"xmin": 1, "ymin": 1, "xmax": 10 + i, "ymax": 10}}],
            )
            for i in range(3)
        ]
        for event in (
            DatasetCreated(dataset_id="d1", name="d", dataset_type=1, dataset_type_name="object_detection"),
            SamplesAdded(dataset_id="d1", dataset_type=1, samples=samples),
        ):
            envelope = make_envelope(event, source="/exeml/dataset", tenant_id="t1")
            await runtime.transport.publish(OutgoingMessage(envelope.type, envelope.to_bytes(), envelope.id))

        async def imported():
            response = await client.get("/v1/datasets/d1/annotations/stats")
            return response.status_code == 200 and response.json()["sample_stats"]["labeled"] == 3

        await wait_until(imported, what="samples imported")
        response = await client.put("/v1/datasets/d1/labels/car", json={"name": "truck"})
        assert response.status_code == 200, response.text
        response = await client.put(
            "/v1/datasets/d1/annotations/s0",
            json={"annotations": [{"name": "bus", "bndbox": {"xmin": 0, "ymin": 0, "xmax": 50, "ymax": 50}}]},
        )
        assert response.status_code == 200, response.text
        response = await client.delete("/v1/datasets/d1/labels/truck", params={"delete_policy": 0})
        assert response.json()["changed_sample_count"] == 2
        snapshot = (await client.get("/internal/datasets/d1/annotations")).json()
        assert {sid: [a["name"] for a in anns] for sid, anns in snapshot["annotations"].items()} == {
            "s0": ["bus"]
        }
    finally:
        await client.aclose()
        await runtime.stop()
