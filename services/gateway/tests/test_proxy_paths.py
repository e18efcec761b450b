"""What the proxy forwards: encoded paths as sent, OPTIONS/HEAD, and 405 on the gateway's own paths."""

from __future__ import annotations


async def test_another_method_on_a_gateway_path_is_405_naming_the_allowed_ones(gateway) -> None:
    response = await gateway.client.put("/v1/api-keys", json={}, headers=gateway.with_key(gateway.admin_key))
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error_code"] == "ModelArts.0405"


async def test_ids_with_control_characters_reach_the_service_as_encoded(gateway) -> None:
    # Decoded and re-parsed, %01 made httpx refuse the upstream URL (a 500); %2F must not become a segment.
    key = gateway.with_key(gateway.admin_key)
    response = await gateway.client.get("/v1/datasets/a%01b%7F/samples/x%2Fy", headers=key)
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "datasets/a\x01b\x7f/samples/x/y"
    newline = await gateway.client.get("/v1/datasets/a%0Ab", headers=key)  # no route matches across lines
    assert newline.status_code == 404 and newline.json()["error_code"] == "ModelArts.0404"


async def test_options_and_head_are_answered_by_the_service(gateway) -> None:
    for method in ("OPTIONS", "HEAD"):
        response = await gateway.client.request(
            method, "/v1/datasets", headers=gateway.with_key(gateway.admin_key)
        )
        assert response.status_code == 405, (method, response.text)
        assert set(response.headers["allow"].split(", ")) == {"GET", "POST", "PUT", "DELETE"}
