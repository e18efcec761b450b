"""The cache of verified API keys: bounded, and a revocation refuses a cached key on the next request."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from gateway.app import create_app
from gateway.keys import hash_key
from gateway.models import ApiKey
from gateway.proxy import ServiceClients
from gateway.verified_keys import VerifiedKeys

from shared.auth import Principal
from shared.db import utcnow
from shared.errors import InvalidCredentials
from shared.events.gateway import ApiKeyRevoked
from shared.service import build_runtime, load_definition


def _principal(n: int) -> Principal:
    return Principal(tenant_id="t", subject=f"key:{n}", roles=("viewer",))


def test_the_cache_keeps_at_most_its_size_and_drops_the_least_recently_used() -> None:
    keys = VerifiedKeys(size=3, ttl=60)
    for n in range(3):
        keys.put(f"h{n}", f"k{n}", _principal(n))
    assert keys.get("h0") == _principal(0)  # h0 used: h1 is now the least recent
    for n in range(3, 6):
        keys.put(f"h{n}", f"k{n}", _principal(n))
    assert len(keys) == 3
    assert [keys.get(f"h{n}") is not None for n in range(6)] == [False, False, False, True, True, True]
    keys.put("h0", "k0", _principal(0))
    keys.get("h4")
    keys.put("h6", "k6", _principal(6))
    assert keys.get("h5") is None and keys.get("h4") is not None


def test_entries_expire_and_a_revoked_key_is_never_cached_again() -> None:
    keys = VerifiedKeys(size=10, ttl=0.01)
    keys.put("h", "k", _principal(1))
    assert keys.get("h") is not None
    keys.configure(10, 60)
    keys.revoke("k")
    assert keys.get("h") is None
    keys.put("h", "k", _principal(1))  # a verification that read the row before the revocation committed
    assert keys.get("h") is None
    expiring = VerifiedKeys(size=10, ttl=0.001)
    expiring.put("h", "k", _principal(1))
    assert asyncio.run(asyncio.sleep(0.01)) is None and expiring.get("h") is None


async def test_requests_in_flight_with_an_unknown_key_share_one_verification() -> None:
    keys = VerifiedKeys(size=10, ttl=60)
    calls, release = [], asyncio.Event()

    async def verify() -> tuple[str, Principal]:
        calls.append(1)
        await release.wait()
        return "k1", _principal(1)

    waiting = [asyncio.create_task(keys.verify("h1", verify)) for _ in range(32)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [_principal(1)] * 32
    assert len(calls) == 1 and keys.get("h1") == _principal(1)

    async def refuse() -> tuple[str, Principal]:
        calls.append(1)
        await asyncio.sleep(0)
        raise InvalidCredentials("invalid or revoked API key")

    refused = await asyncio.gather(*[keys.verify("h2", refuse) for _ in range(5)], return_exceptions=True)
    assert all(isinstance(r, InvalidCredentials) for r in refused) and len(calls) == 2
    assert keys.get("h2") is None
    keys.revoke("k3")  # revoked while its verification was in flight: answered, not cached

    async def revoked_meanwhile() -> tuple[str, Principal]:
        return "k3", _principal(3)

    assert await keys.verify("h3", revoked_meanwhile) == _principal(3) and keys.get("h3") is None


async def test_a_cached_key_revoked_elsewhere_is_refused_once_the_event_arrives(gateway) -> None:
    runtime = gateway.platform.runtimes["gateway"]
    verified = runtime.component(VerifiedKeys)
    verified.configure(100, 3600)  # only the event can drop it within this test
    key = await gateway.new_key(["developer"])
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))).status_code == 200
    assert verified.get(hash_key(key)) is not None
    # Another gateway process revokes it: its row changes and its event goes out; this process's cache
    # still holds the key until the event comes.
    async with runtime.db.session() as session:
        row = (await session.execute(sa.select(ApiKey).where(ApiKey.key_hash == hash_key(key)))).scalar_one()
        key_id, prefix, name = row.id, row.key_prefix, row.name
        await session.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))).status_code == 200
    async with runtime.db.session() as session:
        event = ApiKeyRevoked(key_id=key_id, key_prefix=prefix, name=name)
        await runtime.outbox.add(session, event, subject=key_id, tenant_id="default")
    for _ in range(200):
        if verified.get(hash_key(key)) is None:
            break
        await asyncio.sleep(0.05)
    refused = await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))
    assert refused.status_code == 401 and refused.json()["error_code"] == "ModelArts.0203"


async def test_a_key_revoked_here_is_refused_on_the_next_request_and_announced(gateway) -> None:
    runtime = gateway.platform.runtimes["gateway"]
    runtime.component(VerifiedKeys).configure(100, 3600)
    key = await gateway.new_key(["viewer"])
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))).status_code == 200
    listed = await gateway.client.get("/v1/api-keys", headers=gateway.with_key(gateway.admin_key))
    key_id = next(i["id"] for i in listed.json()["items"] if i["roles"] == ["viewer"])
    revoked = await gateway.client.delete(
        f"/v1/api-keys/{key_id}", headers=gateway.with_key(gateway.admin_key)
    )
    assert revoked.status_code == 200
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))).status_code == 401
    async with runtime.db.session() as session:
        outbox = runtime.outbox.table
        types = (await session.execute(sa.select(outbox.c.event_type))).scalars().all()
    assert "gateway.api_key.revoked.v1" in types


async def test_keys_evicted_from_a_full_cache_still_authenticate_from_the_database(gateway) -> None:
    verified = gateway.platform.runtimes["gateway"].component(VerifiedKeys)
    verified.configure(2, 3600)
    keys = [await gateway.new_key(["viewer"]) for _ in range(4)]
    for _ in range(2):
        for key in keys:
            response = await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))
            assert response.status_code == 200 and response.json()["roles"] == ["viewer"]
    assert len(verified) == 2


async def test_a_replica_without_consumers_refuses_a_key_revoked_by_another_at_once(gateway) -> None:
    """Two API replicas of the distributed mode: the second runs no consumer (as ``uvicorn gateway.app``), yet
    the revocation made through the first reaches its cache through the bus, long before ``key_cache_seconds``."""
    primary = gateway.platform.apps["gateway"]
    settings = gateway.platform.settings["gateway"]
    runtime = build_runtime(load_definition("gateway"), settings)
    await runtime.start(background=False)
    replica = create_app(settings, runtime, ServiceClients())
    replica.state.clients["dataset"] = primary.state.clients["dataset"]
    verified = runtime.component(VerifiedKeys)
    verified.configure(100, 3600)  # only the event can drop it within this test
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=replica), base_url="http://replica"
        ) as client:
            key = await gateway.new_key(["developer"])
            assert (await client.get("/v1/datasets", headers=gateway.with_key(key))).status_code == 200
            assert verified.get(hash_key(key)) is not None
            listed = await gateway.client.get("/v1/api-keys", headers=gateway.with_key(gateway.admin_key))
            key_id = next(i["id"] for i in listed.json()["items"] if i["key_prefix"] == key[:12])
            revoked = await gateway.client.delete(
                f"/v1/api-keys/{key_id}", headers=gateway.with_key(gateway.admin_key)
            )
            assert revoked.status_code == 200
            for _ in range(200):
                if verified.get(hash_key(key)) is None:
                    break
                await asyncio.sleep(0.05)
            refused = await client.get("/v1/datasets", headers=gateway.with_key(key))
            assert refused.status_code == 401 and refused.json()["error_code"] == "ModelArts.0203"
    finally:
        await runtime.stop()
