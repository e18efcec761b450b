"""The cross-service test platform and peer calls: every service started on PostgreSQL, RabbitMQ and S3."""

from __future__ import annotations

import pytest

from shared.errors import ServiceUnavailable
from shared.events.dataset import DatasetCreated
from shared.service import PeerError

ALL = ["dataset", "labeling", "trainer", "registry", "inference", "workflow"]


async def test_platform_starts_every_service_and_peers_reach_each_other(platform_factory) -> None:
    platform = await platform_factory(ALL)
    for name in ALL:
        response = await platform.client(name).get("/readyz")
        assert response.status_code == 200, (name, response.text)
        assert response.json()["checks"] == {"database": "ok", "storage": "ok", "bus": "ok"}
    # A peer call carries an internal token for the tenant: a protected route answers 404, not 401.
    dataset = platform.runtimes["dataset"]
    with pytest.raises(PeerError) as caught:
        await dataset.peers.request("labeling", "GET", "/v1/no-such-route", tenant_id="tenant-a")
    assert caught.value.status_code == 404


async def test_events_cross_services_in_their_own_namespace(platform_factory) -> None:
    platform = await platform_factory(["dataset", "labeling"])
    assert platform.runtimes["dataset"].consumer.queue == f"{platform.namespace}.dataset.events"
    transport = platform.runtimes["dataset"].transport
    assert transport.events_exchange == f"{platform.namespace}.events"
    async with platform.runtimes["dataset"].db.session() as session:
        await platform.runtimes["dataset"].outbox.add(
            session,
            DatasetCreated(
                dataset_id="d1", name="n", dataset_type=0, dataset_type_name="image_classification"
            ),
            tenant_id="tenant-a",
        )


async def test_unconfigured_peer_is_unavailable(platform_factory) -> None:
    platform = await platform_factory(["dataset"], bus="memory")
    runtime = platform.runtimes["dataset"]
    runtime.peers._clients.pop("labeling", None)
    with pytest.raises(ServiceUnavailable, match="EXEML_LABELING_URL"):
        await runtime.peers.request("labeling", "GET", "/readyz", tenant_id="t")
