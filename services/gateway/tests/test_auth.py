"""API keys, roles, tenants and limits at the gateway."""

from __future__ import annotations

import sqlalchemy as sa
from gateway.models import ApiKey


async def test_requests_without_or_with_a_wrong_key_are_401(gateway) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-Auth-Token": "exeml_wrong"}):
        response = await gateway.client.get("/v1/datasets", headers=headers)
        assert response.status_code == 401
        assert response.json()["error_code"] == "ModelArts.0203"


async def test_bearer_and_x_auth_token_both_authenticate_and_carry_the_tenant(gateway) -> None:
    for headers in ({"Authorization": f"Bearer {gateway.admin_key}"}, {"X-Auth-Token": gateway.admin_key}):
        response = await gateway.client.get("/v1/datasets?x=1", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["tenant"] == "default" and response.json()["roles"] == ["admin"]


async def test_viewer_reads_and_predicts_but_cannot_write(gateway) -> None:
    viewer = await gateway.new_key(["viewer"])
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(viewer))).status_code == 200
    denied = await gateway.client.post("/v1/datasets", json={}, headers=gateway.with_key(viewer))
    assert denied.status_code == 403 and denied.json()["details"][0]["rule"] == "role_viewer_read_only"
    for method in ("PUT", "DELETE"):
        assert (
            await gateway.client.request(method, "/v1/services/x", headers=gateway.with_key(viewer))
        ).status_code == 403
    predicted = await gateway.client.post(
        "/v1/infers/svc-1", json={"text": "hi"}, headers=gateway.with_key(viewer)
    )
    assert predicted.status_code == 200
    developer = await gateway.new_key(["developer"])
    assert (
        await gateway.client.post("/v1/datasets", json={}, headers=gateway.with_key(developer))
    ).status_code == 200


async def test_only_admins_manage_keys_and_revoked_keys_stop_working(gateway) -> None:
    developer = await gateway.new_key(["developer"])
    refused = await gateway.client.post(
        "/v1/api-keys", json={"name": "x", "roles": ["admin"]}, headers=gateway.with_key(developer)
    )
    assert refused.status_code == 403
    listed = await gateway.client.get("/v1/api-keys", headers=gateway.with_key(gateway.admin_key))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert listed.json()["total"] == 2 and all("key" not in item for item in items)
    dev_id = next(i["id"] for i in items if i["roles"] == ["developer"])
    revoked = await gateway.client.delete(
        f"/v1/api-keys/{dev_id}", headers=gateway.with_key(gateway.admin_key)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await gateway.client.get("/v1/datasets", headers=gateway.with_key(developer))).status_code == 401


async def test_invalid_key_requests_name_the_field(gateway) -> None:
    response = await gateway.client.post(
        "/v1/api-keys", json={"name": "x", "roles": ["owner"]}, headers=gateway.with_key(gateway.admin_key)
    )
    assert response.status_code == 400
    assert any("roles" in (d.get("field") or "") for d in response.json()["details"])
    for roles in (
        ["viewer", "viewer"],
        ["admin", "developer", "viewer", "admin"],
    ):  # stored joined in 64 chars
        response = await gateway.client.post(
            "/v1/api-keys", json={"name": "x", "roles": roles}, headers=gateway.with_key(gateway.admin_key)
        )
        assert response.status_code == 400, roles
        assert any("roles" in (d.get("field") or "") for d in response.json()["details"])


async def test_operator_admin_creates_a_tenant_whose_admin_is_confined_to_it(gateway) -> None:
    acme_admin = await gateway.new_key(["admin"], tenant_id="acme")
    routed = await gateway.client.get("/v1/projects", headers=gateway.with_key(acme_admin))
    assert routed.json()["tenant"] == "acme"
    # acme's admin may not mint keys for another tenant, nor see the operator's keys.
    other = await gateway.client.post(
        "/v1/api-keys",
        json={"name": "x", "roles": ["viewer"], "tenant_id": "globex"},
        headers=gateway.with_key(acme_admin),
    )
    assert other.status_code == 403
    listed = await gateway.client.get("/v1/api-keys", headers=gateway.with_key(acme_admin))
    assert [i["tenant_id"] for i in listed.json()["items"]] == ["acme"]
    operator_keys = await gateway.client.get("/v1/api-keys", headers=gateway.with_key(gateway.admin_key))
    foreign_id = next(i["id"] for i in operator_keys.json()["items"] if i["name"] == "bootstrap")
    assert (
        await gateway.client.delete(f"/v1/api-keys/{foreign_id}", headers=gateway.with_key(acme_admin))
    ).status_code == 404


async def test_keys_are_stored_hashed_and_never_logged(gateway, capsys) -> None:
    key = await gateway.new_key(["developer"])
    await gateway.client.get("/v1/datasets", headers=gateway.with_key(key))
    await gateway.client.get("/v1/datasets", headers={"X-Auth-Token": key + "x"})
    async with gateway.platform.runtimes["gateway"].db.session() as session:
        rows = (await session.execute(sa.select(ApiKey))).scalars().all()
    for row in rows:
        assert key not in (row.key_hash, row.name) and key[:20] not in row.key_prefix
    out = capsys.readouterr()
    assert key not in out.out + out.err and gateway.admin_key not in out.out + out.err


async def test_oversized_request_bodies_are_refused_with_413(gateway) -> None:
    response = await gateway.client.post(
        "/v1/datasets", content=b"x" * (64 * 1024 + 1), headers=gateway.with_key(gateway.admin_key)
    )
    assert response.status_code == 413
    assert response.json()["details"][0]["rule"] == "max_request_bytes"
    fits = await gateway.client.post(
        "/v1/datasets", content=b"x" * 1000, headers=gateway.with_key(gateway.admin_key)
    )
    assert fits.json()["bytes"] == 1000
